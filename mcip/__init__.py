"""MCIP Guardian core: the taxonomy, the trajectory record, MCI flows, the prompt format and the verdict parser.

Every stage (data generation, training, evaluation, inference) imports these; nothing here needs a GPU,
a model or the network.
"""

__version__ = "0.1.0"
