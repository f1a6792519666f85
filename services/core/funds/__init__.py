"""Funds (衔接资金), the project library (项目库) and the assets projects leave (扶贫项目资产)."""
