"""The managers' reports: overbooking figures and rates, plotly charts, the date range, CSV downloads."""
