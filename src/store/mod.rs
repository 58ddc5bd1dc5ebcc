//! The run store: runs and user profiles on disk, written atomically.
