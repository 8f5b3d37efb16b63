"""Security policies: ethical walls, directory groups, disclaimers, their evaluation and simulation."""
