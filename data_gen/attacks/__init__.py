"""One transform per risk label. Each module registers ``apply(traj, cat, rng) -> Variant | None`` (None: not
applicable to this trajectory) with ``@attack(LABEL, wants=...)`` from ``data_gen.registry``; the optional
``wants(intent, cat) -> bool`` steers the generator towards intents it applies to.

Transforms are pure functions of (trajectory, catalogue, rng). To add a risk class, add its label to
``mcip/taxonomy.py`` and drop a module here; ``data_gen.registry`` finds it by a package scan (``ATTACKS``).
Building blocks that hard negatives share with an attack live in ``data_gen.surfaces``.
"""
