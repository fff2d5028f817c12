"""Admin of the telephony app, one module per area; importing them registers them."""
