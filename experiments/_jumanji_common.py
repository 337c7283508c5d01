"""What the Jumanji experiments share: PPO's attention torso over `observation="items"` (the
item-set experiments' default), and the MLP over the flat observation: their baseline variant
`mlp`, and the only torso of the tasks without an item view (CVRP, BinPack, JobShop)."""

# networks/attention.py: width 64, 2 attention blocks of 4 heads, a 64-wide critic after pooling.
SET_TORSO = dict(hidden_sizes=(64,), critic_hidden_sizes=(64,), torso="set", attention_layers=2, attention_heads=4)

FLAT_MLP = dict(hidden_sizes=(256, 256), critic_hidden_sizes=(256, 256))  # ours

TORSO_VARIANTS = {
    "attention": {},
    "mlp": {"env.observation": "flat", "agent.torso": "mlp", **{f"agent.{k}": v for k, v in FLAT_MLP.items()}},
}
