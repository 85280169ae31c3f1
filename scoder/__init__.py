"""The SCoder method (recipes, synthesis, SFT, sampling, scoring, influence). It may import harness/,
never the reverse. Built in the method issue; empty until then."""
