"""Audio files at the edge: :mod:`.decode` reads music for analysis, :mod:`.write`
writes rendered sessions. Each imports its libraries inside the functions."""
