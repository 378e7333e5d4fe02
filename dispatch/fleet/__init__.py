"""An organization's fleet: drivers and trucks, and the event that keeps fleet shards fresh."""
