// charmony gallery: show only valid, invalid or unchecked samples, and order the cards of every set.
"use strict";

const show = document.getElementById("show");
const order = document.getElementById("order");
const rank = { valid: 0, unchecked: 1, invalid: 2 };
const compare = {
  number: (a, b) => a.dataset.number - b.dataset.number,
  valid: (a, b) => rank[a.dataset.validity] - rank[b.dataset.validity] || compare.number(a, b),
  shortest: (a, b) => a.dataset.length - b.dataset.length || compare.number(a, b),
  longest: (a, b) => b.dataset.length - a.dataset.length || compare.number(a, b),
};

function arrange() {
  let shown = 0, total = 0;
  for (const list of document.querySelectorAll(".cards")) {
    const cards = [...list.children].sort(compare[order.value]);
    for (const card of cards) {
      card.hidden = show.value !== "all" && card.dataset.validity !== show.value;
      shown += card.hidden ? 0 : 1;
      total += 1;
      list.append(card);
    }
  }
  document.getElementById("count").textContent = shown === total ? `${total} samples` : `${shown} of ${total} samples`;
}

show.addEventListener("change", arrange);
order.addEventListener("change", arrange);
arrange();
