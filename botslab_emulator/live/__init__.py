"""The emulator's side of live view (liveview.md 13). Work in progress: signalling primitives."""
