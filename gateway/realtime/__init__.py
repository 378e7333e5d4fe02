"""The real-time gateway: driver and board websockets, ping micro-batching, board fan-out."""
