"""The ResMan connector: v1 form/MITS client, v2 JSON client, MITS builder/parser, mapping."""
