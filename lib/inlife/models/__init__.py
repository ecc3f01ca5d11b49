"""Churn, stickiness and propensity models: specs, MLlib training, MLflow registry, scoring.

- ``spec``: a model is a YAML spec ``<models.specs_dir>/<name>.yaml`` (feature table, label, split,
  candidate algorithms, imbalance handling, promotion gate); checked against the tables before training;
- ``features``: the training frame and the feature-assembly stages that go inside the pipeline;
- ``train``: candidates compared on validation AUC-PR, the best logged and registered (``train_model``);
- ``metrics`` / ``plots``: AUC-ROC, AUC-PR, lift, capture, calibration, from one small histogram;
- ``registry``: MLflow setup from config, aliases ``champion`` / ``challenger``, gate, promote, rollback;
- ``scoring``, ``reasons``, ``drift``: ``scores.model_scores`` from every champion, churn reason codes, PSI.
"""
