"""Monitoring cases (监测对象): risk clues, identification, assistance, risk elimination."""
