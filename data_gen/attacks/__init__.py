"""One transform per risk label. Each module defines ``LABEL`` (an MCIP label string) and
``apply(traj, cat, rng) -> Variant | None`` (None: not applicable to this trajectory), and may define
``wants(intent, cat) -> bool`` to steer the generator towards intents it applies to.

Transforms are pure functions of (trajectory, catalogue, rng). To add a risk class, add its label to
``mcip/taxonomy.py`` and drop a module here; ``data_gen.registry`` discovers it (``ATTACKS``). Building blocks
that hard negatives share with an attack live in ``data_gen.surfaces``.
"""
