"""Relevance of an article to Peruvian security: score, topics, places and evidence.

from pipeline.classify import load_model
model = load_model(db_path)          # newest version in the database, else the base model
c = model.classify(title, text)      # -> pipeline.records.Classification
"""

from pipeline.classify.model import MODEL_THRESHOLD, Model, ModelError, base_model, load_model

__all__ = ["MODEL_THRESHOLD", "Model", "ModelError", "base_model", "load_model"]
