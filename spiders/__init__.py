"""The Scrapy project: one spider module per operator, shared parsing helpers, pipeline and middlewares."""
