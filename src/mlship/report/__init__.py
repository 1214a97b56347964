"""The pull-request report: verdict, metrics, params, data and plots in one markdown comment."""
