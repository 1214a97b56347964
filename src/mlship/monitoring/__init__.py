"""Watch production data and predictions for drift from the data the model was trained on."""
