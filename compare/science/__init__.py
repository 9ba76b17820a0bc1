"""twostep.compare.science: the science: the claims (claims/), the statistics (stats), the scaling
fits (scaling), the core view's rescaling (rescale) and the fuzzer's strategies."""
