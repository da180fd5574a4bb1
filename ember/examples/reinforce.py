"""REINFORCE (Williams, 1992) on a small grid world written here: ``python -m
ember.examples.reinforce``.

The environment: an agent on a 5x5 grid starts in a random cell and must reach the goal corner;
each step costs 0.02, reaching the goal pays 1, an episode ends at the goal or after 30 steps.
The policy is an MLP over a one-hot position with a ``Categorical`` over 4 moves; the update is
the policy gradient with discounted returns, a running-mean baseline and an entropy bonus.
The environment stays on the host; ``--device cuda`` (the default when a GPU is present) runs
the policy and its update on the GPU.
"""
from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np

import ember as torch
import ember.nn as nn
from ember.distributions import Categorical


class GridWorld:
    """5x5 grid, goal at (size-1, size-1); actions: 0 up, 1 down, 2 left, 3 right."""

    MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))

    def __init__(self, size: int = 5, max_steps: int = 30, seed: int = 0) -> None:
        self.size = size
        self.max_steps = max_steps
        self.rng = np.random.default_rng(seed)

    def reset(self) -> np.ndarray:
        while True:
            self.pos = self.rng.integers(0, self.size, 2)
            if tuple(self.pos) != (self.size - 1, self.size - 1):
                break
        self.t = 0
        return self._obs()

    def _obs(self) -> np.ndarray:
        o = np.zeros(self.size * self.size, dtype=np.float32)
        o[self.pos[0] * self.size + self.pos[1]] = 1.0
        return o

    def step(self, action: int) -> tuple:
        dr, dc = self.MOVES[action]
        self.pos = np.clip(self.pos + (dr, dc), 0, self.size - 1)
        self.t += 1
        done_goal = tuple(self.pos) == (self.size - 1, self.size - 1)
        reward = 1.0 if done_goal else -0.02
        return self._obs(), reward, done_goal or self.t >= self.max_steps


class Policy(nn.Module):
    """Position one-hot -> 64 -> 4 action logits."""

    def __init__(self, n_obs: int, n_act: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_obs, 64), nn.Tanh(), nn.Linear(64, n_act))

    def forward(self, obs):
        return Categorical(logits=self.net(obs))


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="REINFORCE on a 5x5 grid world.")
    p.add_argument("--episodes", type=int, default=600)
    p.add_argument("--gamma", type=float, default=0.97)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--entropy", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cpu or cuda (default: cuda when a GPU and CuPy are present)")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    env = GridWorld(seed=args.seed)
    device = torch.device(args.device)
    policy = Policy(env.size * env.size).to(device)
    opt = torch.optim.Adam(policy.parameters(), lr=args.lr)
    baseline = 0.0
    returns_hist, lengths = [], []
    report_every = max(args.episodes // 10, 1)
    for ep in range(1, args.episodes + 1):
        obs, done = env.reset(), False
        log_probs, entropies, rewards = [], [], []
        while not done:
            dist = policy(torch.tensor(obs).to(device))
            action = dist.sample()
            log_probs.append(dist.log_prob(action))
            entropies.append(dist.entropy())
            obs, r, done = env.step(int(action.item()))
            rewards.append(r)
        g, disc = 0.0, []
        for r in reversed(rewards):
            g = r + args.gamma * g
            disc.append(g)
        disc = torch.tensor(disc[::-1], dtype=torch.float32, device=device)
        baseline = 0.9 * baseline + 0.1 * float(disc.mean().item())
        loss = -(torch.stack(log_probs) * (disc - baseline)).sum() \
            - args.entropy * torch.stack(entropies).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        returns_hist.append(sum(rewards))
        lengths.append(len(rewards))
        if ep % report_every == 0:
            print(f"episode {ep}/{args.episodes}  mean return {np.mean(returns_hist[-50:]):6.3f}"
                  f"  mean length {np.mean(lengths[-50:]):5.1f}", flush=True)
    return {"returns": returns_hist, "lengths": lengths}


if __name__ == "__main__":
    main()
