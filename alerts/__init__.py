"""Change events and alerts: detect (stored crawls → OfferEvent rows), then match and deliver."""
