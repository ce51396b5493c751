"""The bottom layer every other package may use: the exception root, the one guarded YAML reader
with line numbers, the one ``FILE:LINE: message`` problem type and the one clock."""
