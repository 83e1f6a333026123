"""Split model inputs into blocks (tiles) with halo and stitch the model's output blocks back together.

The runner plans once, then drives the loop itself (the backend may be async); ``process=`` lets it
preprocess each input block and postprocess each output block on the way (see ``pyapp.ops.plan_blockwise``)::

    plan = plan_tiles(model, {t: a.shape for t, a in inputs.items()}, memory_budget=2**30)
    outputs = allocate_outputs(plan)
    for block in plan.blocks:
        stitch(plan, block, await backend.run(extract(plan, block, inputs)), outputs)

Arrays are in the model tensors' axis order. Sizes follow the model description (0.5 view): parameterized
sizes ``min + n*step``, fixed sizes, size references with scale and offset, output halos.
"""

from ._apply import BlockProcess, allocate_output, allocate_outputs, extract, output_shapes, stitch, valid_input_shape
from ._axes import TilingError
from ._plan import ACTIVATION_FACTOR, Block, TilePlan, plan_tiles

__all__ = [
    "ACTIVATION_FACTOR", "Block", "BlockProcess", "TilePlan", "TilingError", "allocate_output", "allocate_outputs",
    "extract", "output_shapes", "plan_tiles", "stitch", "valid_input_shape",
]
