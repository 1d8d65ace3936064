"""Singer tap for Crescendo AI's reporting API."""
