"""Dockable panels: properties (node, tensor, model) and search. Each reads the core's graph model
and reports what the user asks for through signals carrying ids (node index, tensor name, path)."""
