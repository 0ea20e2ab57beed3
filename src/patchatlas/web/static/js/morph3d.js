/* 3-D morphology viewer (vendored three.js): soma-centred line segments coloured by
   compartment, per-compartment toggles, layer planes when the atlas stores layer depths,
   orbit / zoom / pan with mouse, touch and keyboard. Falls back to the 2-D projections. */
import * as THREE from "three";
import {OrbitControls} from "/static/vendor/three/OrbitControls.js";

const data = await window.patchatlasMorph;
const done = () => { document.body.dataset.ready = "1"; };
if (data) {
  const el = document.getElementById("viewer");
  let renderer = null;
  try {
    const probe = document.createElement("canvas");
    if (!(probe.getContext("webgl2") || probe.getContext("webgl"))) throw new Error("no WebGL");
    renderer = new THREE.WebGLRenderer({antialias: true, preserveDrawingBuffer: true});
  } catch (e) {
    el.hidden = true; document.getElementById("no-webgl").hidden = false;
    el.dataset.mode = "2d";
  }
  if (renderer) {
    const {nodes, layers, pia, hidden, draw2d} = data;
    const pts = [...nodes.values()];
    const soma = pts.filter((n) => n.t === 1);
    const c = soma.length ? soma.reduce((a, n) => ({x: a.x + n.x / soma.length, y: a.y + n.y / soma.length, z: a.z + n.z / soma.length}), {x: 0, y: 0, z: 0}) : {x: 0, y: 0, z: 0};
    const W = () => el.clientWidth || 800, H = () => el.clientHeight || 560;
    renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
    renderer.setSize(W(), H());
    renderer.setClearColor(0xffffff, 1);
    el.appendChild(renderer.domElement);
    renderer.domElement.tabIndex = 0;
    renderer.domElement.setAttribute("aria-label", "3-D reconstruction, soma-centred; arrow keys rotate, + and - zoom");
    const scene = new THREE.Scene();
    const camera = new THREE.PerspectiveCamera(40, W() / H(), 1, 1e6);
    // one LineSegments per compartment type, positions relative to the soma
    const groups = {};
    for (const n of pts) {
      const par = nodes.get(n.p); if (!par) continue;
      const t = [1, 2, 3, 4].includes(n.t) ? n.t : 0;
      (groups[t] = groups[t] || []).push(par.x - c.x, par.y - c.y, par.z - c.z, n.x - c.x, n.y - c.y, n.z - c.z);
    }
    const colors = {0: 0x16a34a, 1: 0x111111, 2: 0x2563eb, 3: 0xdc2626, 4: 0xc026d3};
    const objects = {};
    let nseg = 0;
    for (const [t, arr] of Object.entries(groups)) {
      const g = new THREE.BufferGeometry();
      g.setAttribute("position", new THREE.Float32BufferAttribute(arr, 3));
      const obj = new THREE.LineSegments(g, new THREE.LineBasicMaterial({color: colors[t]}));
      scene.add(obj); objects[t] = obj; nseg += arr.length / 6;
    }
    for (const n of soma) {
      const s = new THREE.Mesh(new THREE.SphereGeometry(Math.max(2, n.r), 12, 8), new THREE.MeshBasicMaterial({color: 0x111111}));
      s.position.set(n.x - c.x, n.y - c.y, n.z - c.z); scene.add(s);
      (objects.somaMeshes = objects.somaMeshes || []).push(s);
    }
    const box = new THREE.Box3().setFromObject(scene), radius = Math.max(50, box.getSize(new THREE.Vector3()).length() / 2);
    // layer planes (translucent, horizontal at each stored layer top)
    const planes = new THREE.Group();
    for (const l of layers) {
      const y = pia - l.top_um - c.y;
      const geo = new THREE.PlaneGeometry(radius * 1.6, radius * 1.6);
      const mesh = new THREE.Mesh(geo, new THREE.MeshBasicMaterial({color: 0x94a3b8, transparent: true, opacity: 0.12, side: THREE.DoubleSide, depthWrite: false}));
      mesh.rotation.x = Math.PI / 2; mesh.position.y = y; planes.add(mesh);
      const edge = new THREE.LineSegments(new THREE.EdgesGeometry(geo), new THREE.LineBasicMaterial({color: 0x94a3b8}));
      edge.rotation.x = Math.PI / 2; edge.position.y = y; planes.add(edge);
    }
    scene.add(planes);
    const controls = new OrbitControls(camera, renderer.domElement);
    controls.enableDamping = false;
    controls.listenToKeyEvents(renderer.domElement);
    const home = () => { camera.position.set(radius * 0.6, radius * 0.35, radius * 2.4); camera.up.set(0, 1, 0); controls.target.set(0, 0, 0); controls.update(); };
    home();
    const render = () => renderer.render(scene, camera);
    controls.addEventListener("change", render);
    render();
    renderer.domElement.addEventListener("keydown", (e) => {
      if (e.key === "+" || e.key === "=") { camera.position.multiplyScalar(0.85); controls.update(); }
      if (e.key === "-") { camera.position.multiplyScalar(1.15); controls.update(); }
    });
    document.getElementById("reset-view").addEventListener("click", () => { home(); render(); });
    document.querySelector(".toggles").addEventListener("change", (e) => {
      const t = e.target;
      if (t.id === "show-layers") planes.visible = t.checked;
      else if (t.dataset.type !== undefined) {
        const k = t.dataset.type;
        if (objects[k]) objects[k].visible = t.checked;
        if (k === "1") (objects.somaMeshes || []).forEach((s) => (s.visible = t.checked));
        const type = +k; t.checked ? hidden.delete(type) : hidden.add(type);
        if (type === 0) for (let x = 5; x < 20; x++) t.checked ? hidden.delete(x) : hidden.add(x);
        draw2d();
      }
      render();
      el.dataset.visible = Object.entries(objects).filter(([k, o]) => k !== "somaMeshes" && o.visible).map(([k]) => k).join(",");
    });
    new ResizeObserver(() => { renderer.setSize(W(), H()); camera.aspect = W() / H(); camera.updateProjectionMatrix(); render(); }).observe(el);
    el.dataset.mode = "3d"; el.dataset.segments = String(nseg); el.dataset.layers = String(layers.length);
    el.dataset.visible = Object.keys(groups).join(",");
    document.getElementById("info-3d").textContent = `${nseg} segments, soma-centred${layers.length ? `, ${layers.length} layer planes` : ""}`;
    document.getElementById("show-layers").disabled = !layers.length;
    window.patchatlas3d = {renderer, scene, camera, controls, render};
  }
}
done();
