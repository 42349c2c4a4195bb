"""Relevance of an article to Peruvian security: score, topics, places and evidence.

from pipeline.classify.versions import load_model
model = load_model(db_path)          # newest version in the database, else the base model
c = model.classify(title, text)      # -> pipeline.records.Classification

Importing this package stays light (no DuckDB): the extraction workers unpickle a Model under a
memory limit.
"""

from pipeline.classify.model import MODEL_THRESHOLD, Model, ModelError

__all__ = ["MODEL_THRESHOLD", "Model", "ModelError"]
