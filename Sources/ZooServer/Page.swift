/// The page at `/`: every model with its facts, and a drop zone per image classifier that sends an image to the
/// classify endpoint and draws its top five as bars. Everything it needs is in the binary; text from models (class
/// names, model names) is set as text, never parsed as HTML.
enum Page {
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'"

    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Zoo models</title>
        <link rel="stylesheet" href="/page.css">
        <script src="/page.js" defer></script>
        </head>
        <body>
        <h1>Zoo models</h1>
        <p id="status">Loading the models…</p>
        <div id="models"></div>
        </body>
        </html>

        """

    static let css = """
        body { font: 15px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 56em; padding: 0 1em; color: #222; }
        .model { border: 1px solid #ccc; border-radius: 6px; padding: 1em; margin: 1em 0; }
        .model h2 { margin: 0 0 .3em; font-size: 1.2em; }
        .facts { color: #555; margin: 0 0 .8em; }
        .drop { display: block; border: 2px dashed #aaa; border-radius: 6px; padding: 1.2em; text-align: center; cursor: pointer; }
        .drop.over { border-color: #36c; background: #eef3ff; }
        .preview { height: 8em; display: block; margin: .8em 0; image-rendering: pixelated; }
        .bar { display: flex; align-items: center; margin: .2em 0; }
        .bar .label { width: 16em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .bar .track { flex: 1; background: #eee; height: 1em; margin: 0 .6em; }
        .bar .fill { background: #36c; height: 100%; }
        .bar .value { width: 4.5em; text-align: right; font-variant-numeric: tabular-nums; }
        .error { color: #b00; }

        """

    static let script = """
        "use strict";
        function element(tag, className, text) {
          const e = document.createElement(tag);
          if (className) e.className = className;
          if (text !== undefined) e.textContent = text;
          return e;
        }
        function shape(s) { return s.join("×"); }
        async function classify(model, file, card) {
          const out = card.querySelector(".result");
          out.replaceChildren(element("p", "", "Classifying " + file.name + "…"));
          const preview = element("img", "preview");
          preview.alt = file.name;
          preview.src = URL.createObjectURL(file);
          try {
            const response = await fetch("/v1/models/" + encodeURIComponent(model.name) + "/classify?top=5", { method: "POST", body: file });
            const answer = await response.json();
            if (!response.ok) throw new Error(answer.error || response.statusText);
            const result = answer.results[0];
            const list = element("div", "bars");
            list.dataset.image = result.image;
            for (const entry of result.top) {
              const bar = element("div", "bar");
              bar.append(element("span", "label", entry.label ?? ("class " + entry.class)));
              const track = element("span", "track"), fill = element("span", "fill");
              fill.style.width = (100 * entry.probability).toFixed(1) + "%";
              fill.style.display = "block";
              track.append(fill);
              bar.append(track, element("span", "value", (100 * entry.probability).toFixed(2) + "%"));
              bar.dataset.probability = entry.probability;
              list.append(bar);
            }
            out.replaceChildren(preview, list, element("p", "time", "Answered in " + (1000 * answer.seconds).toFixed(1) + " ms"));
          } catch (error) {
            out.replaceChildren(element("p", "error", "Failed: " + error.message));
          }
        }
        function card(model) {
          const c = element("section", "model");
          c.dataset.model = model.name;
          c.append(element("h2", "", model.name + " (" + model.architecture + ")"));
          const facts = [model.parameters.toLocaleString() + " parameters", model.gflops + " GFLOPs per sample",
                         "input " + model.inputs.map(i => i.name + " " + shape(i.shape)).join(", "),
                         "outputs " + model.outputs.map(o => o.name + " " + shape(o.shape)).join(", ")];
          if (model.classes) facts.push(model.classes + " classes");
          if (model.preprocessing) facts.push("preprocessing " + model.preprocessing + ", crop " + model.crop_fraction);
          c.append(element("p", "facts", facts.join(" · ")));
          if (model.classes && model.image_size) {
            const drop = element("label", "drop", "Drop an image here, or click to choose one");
            const input = element("input");
            input.type = "file";
            input.accept = "image/jpeg,image/png";
            input.hidden = true;
            input.addEventListener("change", () => { if (input.files[0]) classify(model, input.files[0], c); });
            drop.append(input);
            drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
            drop.addEventListener("dragleave", () => drop.classList.remove("over"));
            drop.addEventListener("drop", e => {
              e.preventDefault();
              drop.classList.remove("over");
              if (e.dataTransfer.files[0]) classify(model, e.dataTransfer.files[0], c);
            });
            c.append(drop);
          } else {
            c.append(element("p", "facts", "Not an image classifier: call POST /v1/models/" + model.name + "/predict with prepared inputs."));
          }
          c.append(element("div", "result"));
          return c;
        }
        async function load() {
          const status = document.getElementById("status");
          try {
            const response = await fetch("/v1/models");
            const answer = await response.json();
            document.getElementById("models").replaceChildren(...answer.models.map(card));
            status.textContent = answer.models.length + " model" + (answer.models.length === 1 ? "" : "s") + " served";
          } catch (error) {
            status.textContent = "Could not list the models: " + error.message;
            status.className = "error";
          }
        }
        load();

        """
}
