// Drives a bimt viewer page as a person would (real DOM events), then writes what the page
// showed into a pre element (id bimt-test) for the Rust test to check against the run's files.
(function () {
  const out = { errors: [] };
  try {
    const D = JSON.parse(document.getElementById("bimt-data").textContent);
    const neurons = [...document.querySelectorAll("circle.neuron")];
    out.neurons = new Set(neurons.map((n) => n.dataset.layer + ":" + n.dataset.neuron)).size;
    out.max_line_width = D.max_line_width;
    out.frames = D.frames.length;
    const weights = () => +document.getElementById("counts").dataset.weights;
    const lines = () => +document.getElementById("counts").dataset.lines;
    out.weights_last = weights();
    out.lines_last = lines();
    out.weights_in_dom = document.querySelectorAll("line.weight").length;
    const timeline = document.getElementById("timeline");
    timeline.value = "0";
    timeline.dispatchEvent(new Event("input"));
    out.weights_first = weights();
    out.lines_first = lines();
    out.step_first = D.frames[0].step;
    timeline.value = String(D.frames.length - 1);
    timeline.dispatchEvent(new Event("input"));
    // Hover a neuron of a layer that has incoming weights: the first hidden neuron with one.
    const layers = D.model.neuron_layers;
    const hidden = [...document.querySelectorAll("circle.neuron")].find((n) => {
      const l = +n.dataset.layer;
      return layers[l].role === "hidden" && D.model.connections.some((c) => c.to === l && c.kind === "linear");
    });
    if (hidden) {
      hidden.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
      out.hovered = [+hidden.dataset.layer, +hidden.dataset.neuron];
      out.hover_incoming = +document.getElementById("info").dataset.incoming;
      out.hover_text = document.getElementById("info").textContent.slice(0, 200);
    }
    const figure = () => +document.getElementById("figure").dataset.value;
    out.figure = figure();
    out.modules = [];
    document.querySelectorAll("#modules button").forEach((b) => {
      b.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      out.modules.push({ neurons: D.modules[+b.dataset.module], figure: figure(), knocked_drawn: document.querySelectorAll("circle.neuron.out").length });
      b.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    });
    out.figure_restored = figure();
    out.resources = performance.getEntriesByType("resource").length;
  } catch (e) {
    out.errors.push(String(e && e.stack ? e.stack : e));
  }
  const pre = document.createElement("pre");
  pre.id = "bimt-test";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
