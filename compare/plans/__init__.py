"""twostep.compare.plans: the plans that join the three: the verify plans and ``check`` (verify),
the core view (core, core_plan), the headline profile, the seed planner (power), fuzz and the phase
planes."""
