"""promowatch: offers of Italian mobile operators, collected, stored with history, compared."""

__version__ = "0.1.0"
