"""Random valid mapping batches for benchmarks (vectorized generation)."""
import numpy as np

from codesign.hw_models.systolic import ROLES_ON
from codesign.mapper.mapping import MappingBatch


def random_batch(layer, arch, n: int, seed: int = 0) -> MappingBatch:
    """n random dataflow-valid mappings: random array tiles (ragged allowed),
    a random divisor of the tile count at the glb level, random loop orders."""
    rng = np.random.default_rng(seed)
    bounds = np.array([b for _, b in layer.dims])
    D = len(bounds)
    inner = np.ones((n, 4, D), dtype=np.int64)
    where = dict(zip(ROLES_ON[arch.dataflow], (1, 2, 3)))
    for j, d in enumerate(layer.dim_names):
        w = where.get(layer.role(d))
        if w and bounds[j] > 1:
            cap = {1: arch.rows, 2: arch.cols, 3: bounds[j]}[w]
            inner[:, w, j] = rng.integers(1, min(bounds[j], cap) + 1, n)
    tiles = -(-bounds // inner[:, 1:, :].prod(axis=1))            # (n, D)
    top = int(tiles.max())
    divs = [[f for f in range(1, k + 1) if k % f == 0] for k in range(top + 1)]
    width = max(len(x) for x in divs)
    table = np.array([x + [1] * (width - len(x)) for x in divs])
    count = np.array([max(len(x), 1) for x in divs])
    pick = (rng.random((n, D)) * count[tiles]).astype(np.int64)
    inner[:, 0, :] = table[tiles, pick]
    rank = np.argsort(rng.random((n, 3, D)), axis=2)
    return MappingBatch.from_arrays(layer, inner, rank)
