"""The LayerNorm LSTM (`--cell lnlstm`): layer normalisation on the gates and the cell state.

It is the cell of TensorFlow's LayerNormBasicLSTMCell (Ba, Kiros and Hinton, 2016): the four gate
pre-activations are normalised each on its own, the new cell state is normalised before it is used
and carried, and the candidate update may be dropped out (Semeniuta et al., 2016: dropout on the
update, not on the memory). It takes the arguments of `nn.LSTM` and returns what it returns, so the
model, the carried state, checkpoints and sampling treat it like any other cell.

Written for `torch.compile`: the input projection of every time step is one matrix multiply before
the loop, and each step is one small matrix multiply and a few elementwise operations on whole
tensors. Under `torch.compile` (`charmony train --compile`) the step is compiled on its own, once,
and the time loop calls it: the compiler fuses each step's elementwise work forwards and backwards,
while the loop itself is not unrolled, which would make compiling take minutes and grow with
--seq-len.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FORGET_BIAS = 1.0  # added to the normalised forget gate, as TensorFlow's cell does
EPSILON = 1e-5  # of the normalisations


class LayerNormLSTMLayer(nn.Module):
    """One layer: inputs (batch, time, input_size) and a state (h, c) of (batch, hidden) each."""

    def __init__(self, input_size: int, hidden_size: int, recurrent_dropout: float = 0.0):
        super().__init__()
        self.hidden_size = hidden_size
        self.recurrent_dropout = recurrent_dropout
        # No biases: the normalisations' shifts take their place.
        self.input_weight = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.recurrent_weight = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        # Gain and shift of the input, update, forget and output gates, and of the cell state.
        self.gate_gain = nn.Parameter(torch.ones(4, hidden_size))
        self.gate_shift = nn.Parameter(torch.zeros(4, hidden_size))
        self.cell_gain = nn.Parameter(torch.ones(hidden_size))
        self.cell_shift = nn.Parameter(torch.zeros(hidden_size))
        bound = hidden_size ** -0.5  # nn.LSTM's initialisation
        nn.init.uniform_(self.input_weight, -bound, bound)
        nn.init.uniform_(self.recurrent_weight, -bound, bound)

    def step(self, projected: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step from the input's projection (batch, 4 * hidden) and the state before."""
        gates = (projected + h @ self.recurrent_weight.t()).unflatten(-1, (4, self.hidden_size))
        gates = F.layer_norm(gates, (self.hidden_size,), eps=EPSILON) * self.gate_gain + self.gate_shift
        i, j, f, o = gates.unbind(-2)
        update = torch.tanh(j)
        if self.recurrent_dropout and self.training:
            update = F.dropout(update, self.recurrent_dropout)
        c = c * torch.sigmoid(f + FORGET_BIAS) + torch.sigmoid(i) * update
        c = F.layer_norm(c, (self.hidden_size,), self.cell_gain, self.cell_shift, EPSILON)
        return torch.tanh(c) * torch.sigmoid(o), c

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Outputs (batch, time, hidden) and the last state."""
        projected = x @ self.input_weight.t()  # every time step at once
        if torch.compiler.is_compiling():
            return self.loop_compiled(projected, state)
        return self.loop(projected, state, self.step)

    def loop(self, projected: torch.Tensor, state, step) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run `step` along the time axis of the projected inputs."""
        h, c = state
        outputs = []
        # unbind, not projected[:, t]: the backward of T selects would write T full-size gradients.
        for projected_t in projected.unbind(1):
            h, c = step(projected_t, h, c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h, c)

    @torch.compiler.disable
    def loop_compiled(self, projected: torch.Tensor, state) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The loop outside the compiled graph, calling the step compiled on its own."""
        if self.__dict__.get("compiled_step") is None:
            self.__dict__["compiled_step"] = torch.compile(self.step)  # in __dict__: not a submodule, not saved
        return self.loop(projected, state, self.__dict__["compiled_step"])


class LayerNormLSTM(nn.Module):
    """Stacked LayerNorm LSTM layers with `nn.LSTM`'s interface (batch first), dropout between layers."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 batch_first: bool = True, recurrent_dropout: float = 0.0):
        super().__init__()
        if not batch_first:
            raise ValueError("LayerNormLSTM takes batch-first inputs only")
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.layers = nn.ModuleList(
            LayerNormLSTMLayer(input_size if index == 0 else hidden_size, hidden_size, recurrent_dropout)
            for index in range(num_layers)
        )

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        """Outputs (batch, time, hidden) and the state (h, c), each (layers, batch, hidden), as nn.LSTM."""
        if state is None:
            zeros = x.new_zeros(self.num_layers, x.size(0), self.hidden_size)
            state = (zeros, zeros)
        hs, cs = [], []
        for index, layer in enumerate(self.layers):
            x, (h, c) = layer(x, (state[0][index], state[1][index]))
            if index < self.num_layers - 1 and self.dropout:
                x = F.dropout(x, self.dropout, self.training)
            hs.append(h)
            cs.append(c)
        return x, (torch.stack(hs), torch.stack(cs))
