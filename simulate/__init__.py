"""twostep.simulate: exact GD steps of the two-layer network and their spectra."""
