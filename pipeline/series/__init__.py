"""Numeric time series: values as tokens, forecasting and scoring forecasts."""
