"""Live video over Qihoo's transport (liveview.md). Work in progress: the signalling
primitives exist; the session, tunnel and relays come next."""
