"""MCIP Guardian core: the taxonomy, the trajectory record, MCI flows, the prompt format and the verdict parser,
and below guard and train alike, the loaded guardian (``mcip.guardian``: folder, backends, prompting, scoring).

Every stage (data generation, training, evaluation, inference) imports these. The format modules need no GPU,
model or network; the guardian modules import torch and transformers only when a local model loads.
"""

__version__ = "0.1.0"
