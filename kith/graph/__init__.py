"""The relationship graph: who knows whom, how well, and how to get introduced."""
