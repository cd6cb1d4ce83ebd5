"""Chinese verse: lines, lengths and forms, shared by the poetry corpus and the poem checker."""
