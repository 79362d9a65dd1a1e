# Solutions to the exercises of docs/advanced/scaling-out.md (no process group needed: each runs in a second).

# --8<-- [start:exercise-1]
import math

from torch.utils.data import DistributedSampler

# A DistributedSampler only needs the dataset's length, the world size and its rank: we can ask it directly.
n_texts, nodes, gpus_per_node, batch_size = 11_000, 2, 8, 32  # all of SmSA's training split, 2 nodes x 8 GPUs
world_size = nodes * gpus_per_node
shards = [list(DistributedSampler(range(n_texts), num_replicas=world_size, rank=r, shuffle=True, seed=0))
          for r in range(world_size)]
per_rank = len(shards[0])
seen = [i for shard in shards for i in shard]
print(f"{world_size} ranks, {per_rank} texts each: {len(seen)} slots for {n_texts} texts,"
      f" {len(seen) - len(set(seen))} texts appear twice")
assert set(seen) == set(range(n_texts))  # together the shards cover every text...
assert len(seen) - len(set(seen)) == world_size * math.ceil(n_texts / world_size) - n_texts  # ...padded to even

steps_per_epoch, single_steps = math.ceil(per_rank / batch_size), math.ceil(n_texts / batch_size)
print(f"texts per optimizer step: {world_size} x {batch_size} = {world_size * batch_size};"
      f" steps per epoch: {steps_per_epoch} (one process alone: {single_steps})")
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
def first_indices(call_set_epoch: bool, epochs: int = 3) -> list[list[int]]:
    sampler = DistributedSampler(range(800), num_replicas=2, rank=0, shuffle=True, seed=0)
    orders = []
    for epoch in range(1, epochs + 1):
        if call_set_epoch:
            sampler.set_epoch(epoch)
        orders.append(list(sampler)[:6])  # the first 6 texts rank 0 reads in this epoch
    return orders


for call in (False, True):
    print(f"set_epoch {'called' if call else 'forgotten'}:", first_indices(call))
forgotten, called = first_indices(False), first_indices(True)
assert forgotten[0] == forgotten[1] == forgotten[2]  # without set_epoch: the same "shuffle" every epoch
assert called[0] != called[1] != called[2]
# --8<-- [end:exercise-2]
