"""Offers with their full history: CrawlRun, Offer (current state), OfferVersion (every content seen)."""
