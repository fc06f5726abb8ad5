"""Client notices: which incident changes to send, rendering, channels, signing and delivery."""
