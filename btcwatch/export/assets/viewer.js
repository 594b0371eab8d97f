/* btcwatch offline viewer: draws the embedded money-flow graph with cytoscape.js.
 *
 * Rules this file keeps (the exported page is evidence an investigator opens offline):
 * - data from the graph is only ever written with textContent, never as HTML;
 * - nothing is fetched: no links are followed, no images or fonts are loaded (the page's CSP
 *   forbids it anyway, and violations are counted and shown);
 * - the layout is deterministic: the same file always draws the same picture.
 * This script runs before cytoscape is parsed, so its error and CSP counters see everything;
 * the graph is drawn on DOMContentLoaded. State for tests and curious users: window.btcwatchViewer.
 */
(function () {
  'use strict';

  var state = { errors: 0, cspViolations: 0, blocked: [], cy: null, selected: '' };
  window.btcwatchViewer = state;

  function mark() {
    var body = document.body;
    if (!body) { return; }
    body.setAttribute('data-errors', String(state.errors));
    body.setAttribute('data-csp-violations', String(state.cspViolations));
    if (state.cspViolations > 0) {
      var banner = document.getElementById('banner');
      banner.textContent = 'Blocked ' + state.cspViolations +
        ' attempt(s) to load something from outside this file: ' + state.blocked.join(', ');
      banner.hidden = false;
    }
  }

  window.addEventListener('error', function () { state.errors += 1; mark(); });
  window.addEventListener('unhandledrejection', function () { state.errors += 1; mark(); });
  document.addEventListener('securitypolicyviolation', function (event) {
    state.cspViolations += 1;
    state.blocked.push(String(event.blockedURI || event.violatedDirective));
    mark();
  });

  // ---- formatting (integers only for money: sats are exact below 2^53) -----------------
  function btc(sats) {
    var negative = sats < 0;
    var abs = Math.abs(sats);
    var frac = String(abs % 100000000);
    while (frac.length < 8) { frac = '0' + frac; }
    return (negative ? '-' : '') + String(Math.floor(abs / 100000000)) + '.' + frac + ' BTC';
  }

  function iso(unix) {
    return unix > 0 ? new Date(unix * 1000).toISOString().replace('.000Z', 'Z') : 'unknown';
  }

  function shorten(text, head, tail) {
    return text.length <= head + tail + 1 ? text : text.slice(0, head) + '…' + text.slice(-tail);
  }

  function yesNo(flag) { return flag ? 'yes' : 'no'; }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }

  // ---- elements: the embedded Cytoscape JSON plus presentation fields (prefixed v) ------
  function buildElements(graph, palette) {
    var category = {};
    var role = {};
    palette.category.forEach(function (pair) { category[pair[0]] = pair[1]; });
    palette.role.forEach(function (pair) { role[pair[0]] = pair[1]; });
    var nodes = graph.elements.nodes.map(function (item) {
      var d = Object.assign({}, item.data);
      if (d.kind === 'address') {
        d.vLabel = d.label ? shorten(d.label, 26, 0) : shorten(d.address, 8, 6);
        d.vFill = category[d.category] || category[''];
        d.vStroke = role[d.role] || role[''];
        d.vBorder = d.role ? 4 : 1;
        d.vTime = d.first_seen;
      } else {
        d.vLabel = 'tx ' + d.txid.slice(0, 8) + '…';
        d.vFill = d.coinjoin ? palette.coinjoin : palette.tx;
        d.vStroke = d.peel ? category.ransomware : palette.tx;
        d.vBorder = d.peel ? 3 : 1;
        d.vTime = d.time;
      }
      return { group: 'nodes', data: d };
    });
    var bundle = {};  // parallel edges per (source, target): many labels would be a blot
    graph.elements.edges.forEach(function (item) {
      var pair = item.data.source + '\n' + item.data.target;
      bundle[pair] = (bundle[pair] || 0) + 1;
    });
    var edges = graph.elements.edges.map(function (item) {
      var d = Object.assign({}, item.data);
      d.vWidth = 1 + Math.log10(d.value_sat / 10000 + 1);
      d.vAmount = bundle[d.source + '\n' + d.target] > 3 ? '' : d.value_btc;
      return { group: 'edges', data: d };
    });
    return nodes.concat(edges);
  }

  function styles() {
    return [
      { selector: 'node', style: {
        'label': 'data(vLabel)', 'font-size': 10, 'min-zoomed-font-size': 6, 'color': '#222', 'text-valign': 'bottom',
        'text-margin-y': 3, 'text-wrap': 'ellipsis', 'text-max-width': '140px',
        'background-color': 'data(vFill)', 'border-color': 'data(vStroke)',
        'border-width': 'data(vBorder)', 'width': 24, 'height': 24 } },
      { selector: 'node[kind = "tx"]', style: { 'shape': 'round-rectangle', 'width': 16, 'height': 16 } },
      { selector: 'node[?coinjoin]', style: { 'shape': 'hexagon', 'width': 26, 'height': 26 } },
      { selector: 'node[?is_source]', style: { 'border-style': 'double', 'border-width': 6 } },
      { selector: 'edge', style: {
        'curve-style': 'bezier', 'control-point-step-size': 4, 'width': 'data(vWidth)',
        'line-color': '#8a8a8a',
        'target-arrow-shape': 'triangle', 'target-arrow-color': '#8a8a8a', 'arrow-scale': 0.8,
        'label': 'data(vAmount)', 'font-size': 8, 'min-zoomed-font-size': 7, 'color': '#333', 'text-rotation': 'autorotate',
        'text-background-color': '#ffffff', 'text-background-opacity': 0.85,
        'text-background-padding': 1 } },
      { selector: 'edge[?is_change]', style: { 'line-style': 'dashed' } },
      { selector: '.faded', style: { 'opacity': 0.15 } },
      { selector: '.match', style: { 'overlay-color': '#FFC107', 'overlay-opacity': 0.45, 'overlay-padding': 6 } },
      { selector: ':selected', style: { 'overlay-color': '#0072B2', 'overlay-opacity': 0.3, 'overlay-padding': 6 } }
    ];
  }

  // ---- deterministic layout ---------------------------------------------------------------
  // Breadth-first (left to right) with "acyclic" pushes every node right of all its payers,
  // which needs a DAG. Money can flow back (change to a reused address), so a depth-first walk
  // in a fixed order (sources first, then by time and id) finds the edges that close a cycle;
  // they are taken out while the layout runs and put back to be drawn.
  function backEdges(cy) {
    var order = cy.nodes().sort(function (a, b) {
      var sa = a.data('is_source') ? 0 : 1;
      var sb = b.data('is_source') ? 0 : 1;
      if (sa !== sb) { return sa - sb; }
      if (a.data('vTime') !== b.data('vTime')) { return a.data('vTime') - b.data('vTime'); }
      return byId(a, b);
    });
    var colour = {};  // absent: unvisited, 1: on the stack, 2: done
    var back = [];
    order.forEach(function (start) {
      if (colour[start.id()]) { return; }
      var stack = [{ node: start, edges: start.outgoers('edge').sort(byId), i: 0 }];
      colour[start.id()] = 1;
      while (stack.length) {
        var top = stack[stack.length - 1];
        if (top.i >= top.edges.length) {
          colour[top.node.id()] = 2;
          stack.pop();
          continue;
        }
        var edge = top.edges[top.i];
        top.i += 1;
        var next = edge.target();
        if (colour[next.id()] === 1) {
          back.push(edge);
        } else if (!colour[next.id()]) {
          colour[next.id()] = 1;
          stack.push({ node: next, edges: next.outgoers('edge').sort(byId), i: 0 });
        }
      }
    });
    return cy.collection(back);
  }

  function byId(a, b) { return a.id() < b.id() ? -1 : (a.id() > b.id() ? 1 : 0); }

  // Order within a column: earlier money first. Cytoscape 3.35 passes the null holes its
  // "acyclic" shifting leaves in a column to this comparator, so they must sort (last) too.
  function byTimeThenId(a, b) {
    if (!a || !b) { return (a ? 0 : 1) - (b ? 0 : 1); }
    return (a.data('vTime') - b.data('vTime')) || byId(a, b);
  }

  // Breadth-first picks each node's column (depth) and first order; the result is then put on
  // a fixed grid so labels never collide: columns COL_W apart, rows ROW_H apart, each column
  // centred. Nodes nobody pays into (e.g. strangers' CoinJoin inputs) move right next to the
  // transaction that spends them, and each column is ordered by where its payers sit.
  var COL_W = 160;
  var ROW_H = 64;
  var MAX_ROWS = 30;

  function runLayout(cy) {
    var back = backEdges(cy);
    var forward = cy.edges().difference(back);
    var removed = back.remove();
    try {
      cy.layout({
        name: 'breadthfirst',
        directed: true,
        acyclic: true,
        roots: cy.nodes().roots(),
        depthSort: byTimeThenId,
        animate: false,
        fit: false
      }).run();
    } finally {
      removed.restore();
    }
    gridify(cy, forward);
    cy.fit(undefined, 30);
  }

  function gridify(cy, forward) {
    var depths = [];
    cy.nodes().forEach(function (n) {
      var y = Math.round(n.position('y'));
      if (depths.indexOf(y) < 0) { depths.push(y); }
    });
    depths.sort(function (a, b) { return a - b; });
    var col = {};
    cy.nodes().forEach(function (n) { col[n.id()] = depths.indexOf(Math.round(n.position('y'))); });
    var predIds = {};
    var succIds = {};
    cy.nodes().forEach(function (n) { predIds[n.id()] = []; succIds[n.id()] = []; });
    forward.forEach(function (e) {
      predIds[e.target().id()].push(e.source().id());
      succIds[e.source().id()].push(e.target().id());
    });
    cy.nodes().sort(byId).forEach(function (n) {
      var succ = succIds[n.id()];
      if (predIds[n.id()].length === 0 && succ.length > 0) {
        col[n.id()] = succ.reduce(function (low, id) { return Math.min(low, col[id]); }, Infinity) - 1;
      }
    });
    var columns = {};
    cy.nodes().forEach(function (n) { (columns[col[n.id()]] = columns[col[n.id()]] || []).push(n); });
    var row = {};
    var x = 0;
    Object.keys(columns).map(Number).sort(function (a, b) { return a - b; }).forEach(function (c) {
      var key = {};
      columns[c].forEach(function (n) {
        var placed = predIds[n.id()].filter(function (id) { return row[id] !== undefined; });
        key[n.id()] = placed.length ?
          placed.reduce(function (sum, id) { return sum + row[id]; }, 0) / placed.length : -1;
      });
      columns[c].sort(function (a, b) { return (key[a.id()] - key[b.id()]) || byTimeThenId(a, b); });
      // A very tall column (hundreds of payments into a ransom address) is folded into
      // side-by-side blocks of at most MAX_ROWS, so the picture keeps a usable shape.
      var blocks = Math.ceil(columns[c].length / MAX_ROWS);
      var rows = Math.ceil(columns[c].length / blocks);
      columns[c].forEach(function (n, i) {
        var block = Math.floor(i / rows);
        var inBlock = Math.min(rows, columns[c].length - block * rows);
        row[n.id()] = i - (columns[c].length - 1) / 2;
        n.position({ x: x + block * COL_W, y: (i - block * rows - (inBlock - 1) / 2) * ROW_H });
      });
      x += blocks * COL_W;
    });
  }

  // ---- details panel ----------------------------------------------------------------------
  function addRow(list, name, value) {
    list.appendChild(el('dt', name));
    list.appendChild(el('dd', value === '' ? '—' : value));
  }

  // Which price made an EUR value: "hourly price of 2026-09-21T14:00:00Z" or "daily price of ...".
  function priceName(d) {
    return (d.price_resolution === 'hour' ? 'hourly' : 'daily') + ' price of ' + d.price_time;
  }

  function findingsText(raw) {
    var parsed;
    try { parsed = JSON.parse(raw); } catch (e) { return [raw]; }
    if (!Array.isArray(parsed)) { return [raw]; }
    return parsed.map(function (f) {
      if (f && typeof f === 'object' && f.heuristic) {
        var pct = typeof f.confidence === 'number' ? ' (' + Math.round(f.confidence * 100) + '%)' : '';
        return f.heuristic + ': ' + f.subject + ' is ' + f.verdict + pct;
      }
      return JSON.stringify(f);
    });
  }

  function flowList(node) {
    var list = el('ul', null, 'flows');
    node.connectedEdges().sort(byId).forEach(function (edge) {
      var d = edge.data();
      var incoming = edge.target().id() === node.id();
      var other = incoming ? edge.source() : edge.target();
      var item = el('li');
      item.appendChild(el('div', (incoming ? 'in from ' : 'out to ') + (other.data('kind') === 'tx' ? 'tx' : 'address')));
      item.appendChild(el('div', other.data('kind') === 'tx' ? other.data('txid') : other.data('address'), 'mono'));
      item.appendChild(el('div', d.kind + ' ' + d.outpoint, 'mono'));
      var value = d.value_btc + ' BTC' + (d.value_eur ? ' (' + d.value_eur + ' EUR, ' +
        priceName(d) + ')' : '');
      item.appendChild(el('div', value + ', tainted ' + btc(d.taint_sat) + ', hop ' + d.hop +
        (d.is_change ? ', change' : '')));
      list.appendChild(item);
    });
    return list;
  }

  function showNode(node) {
    var d = node.data();
    var panel = document.getElementById('details');
    panel.replaceChildren(el('h2', d.kind === 'address' ? 'Address' : 'Transaction'));
    var list = el('dl');
    if (d.kind === 'address') {
      addRow(list, 'Address', d.address);
      addRow(list, 'Label', d.label);
      addRow(list, 'Entity', d.entity);
      addRow(list, 'Category', d.category);
      addRow(list, 'Role', d.role);
      addRow(list, 'Cluster', d.cluster < 0 ? '' : String(d.cluster));
      addRow(list, 'Source', yesNo(d.is_source));
      addRow(list, 'Tainted', btc(d.taint_sat) + ' (' + d.taint_sat + ' sats)');
      addRow(list, 'Received', btc(d.received_sat));
      addRow(list, 'First seen', iso(d.first_seen));
      addRow(list, 'Stopped', d.stop_reason);
    } else {
      addRow(list, 'TxID', d.txid);
      addRow(list, 'Height', d.height < 0 ? 'unconfirmed' : String(d.height));
      addRow(list, 'Time', iso(d.time));
      addRow(list, 'Fee', btc(d.fee_sat));
      addRow(list, 'CoinJoin', yesNo(d.coinjoin));
      addRow(list, 'Peel', yesNo(d.peel));
      addRow(list, 'Change', d.change_vout < 0 ? '' : 'output ' + d.change_vout);
      addRow(list, 'Findings', findingsText(d.findings).join('\n'));
    }
    addRow(list, 'Evidence', d.evidence);
    panel.appendChild(list);
    panel.appendChild(el('h2', 'Flows'));
    panel.appendChild(flowList(node));
    state.selected = node.id();
    document.body.setAttribute('data-selected', node.id());
  }

  function showEdge(edge) {
    var d = edge.data();
    var panel = document.getElementById('details');
    panel.replaceChildren(el('h2', d.kind === 'input' ? 'Input' : 'Output'));
    var list = el('dl');
    addRow(list, 'Outpoint', d.outpoint);
    addRow(list, 'From', edge.source().id());
    addRow(list, 'To', edge.target().id());
    addRow(list, 'Value', d.value_btc + ' BTC (' + d.value_sat + ' sats)');
    addRow(list, 'Value EUR', d.value_eur);
    if (d.value_eur) {
      addRow(list, 'EUR price', priceName(d));
      addRow(list, 'Price source', d.price_source);
    }
    addRow(list, 'Tainted', btc(d.taint_sat));
    addRow(list, 'Time', iso(d.time));
    addRow(list, 'Height', d.height < 0 ? 'unconfirmed' : String(d.height));
    addRow(list, 'Change', yesNo(d.is_change));
    addRow(list, 'Hop', String(d.hop));
    panel.appendChild(list);
    state.selected = edge.id();
    document.body.setAttribute('data-selected', edge.id());
  }

  // ---- search -----------------------------------------------------------------------------
  function search(cy, query) {
    var q = query.trim().toLowerCase();
    var count = document.getElementById('search-count');
    cy.elements().removeClass('faded match');
    if (!q) { count.textContent = ''; return cy.collection(); }
    var hits = cy.nodes().filter(function (n) {
      var d = n.data();
      return [d.id, d.address, d.txid, d.label, d.entity].some(function (field) {
        return typeof field === 'string' && field.toLowerCase().indexOf(q) >= 0;
      });
    });
    cy.elements().not(hits).addClass('faded');
    hits.addClass('match');
    count.textContent = hits.length + (hits.length === 1 ? ' match' : ' matches');
    document.body.setAttribute('data-search-hits', String(hits.length));
    return hits;
  }

  // ---- legend -----------------------------------------------------------------------------
  function legendRow(section, swatchClass, colour, text, asBorder) {
    var row = el('div', null, 'legend-row');
    var swatch = el('span', null, 'swatch ' + swatchClass);
    if (asBorder) { swatch.style.borderColor = colour; } else { swatch.style.backgroundColor = colour; }
    row.appendChild(swatch);
    row.appendChild(el('span', text));
    section.appendChild(row);
  }

  function buildLegend(palette) {
    var section = document.getElementById('legend');
    section.appendChild(el('div', 'Fill: entity category', 'hint'));
    palette.category.forEach(function (pair) {
      legendRow(section, 'fill', pair[1], pair[0] || 'unknown', false);
    });
    section.appendChild(el('div', 'Ring: role in the case', 'hint'));
    palette.role.forEach(function (pair) {
      legendRow(section, 'ring', pair[1], pair[0] || 'none', true);
    });
    section.appendChild(el('div', 'Transactions', 'hint'));
    legendRow(section, 'fill square', palette.tx, 'transaction (ring: peel)', false);
    legendRow(section, 'fill', palette.coinjoin, 'CoinJoin (hexagon)', false);
    section.appendChild(el('div', 'Edges: width grows with value (log scale); dashed = change; double ring = taint source', 'hint'));
  }

  // ---- start ------------------------------------------------------------------------------
  function start() {
    var payload = JSON.parse(document.getElementById('graph-data').textContent);
    var graph = payload.graph;
    var g = graph.data;
    document.getElementById('title').textContent = g.title;
    document.getElementById('subtitle').textContent = 'case ' + g['case'] + ' · trace ' + g.trace_id +
      ' · taint policy ' + g.policy + ' · created ' + g.created_at;
    buildLegend(payload.palette);

    var cy = window.cytoscape({
      container: document.getElementById('cy'),
      elements: buildElements(graph, payload.palette),
      style: styles(),
      layout: { name: 'preset' },
      boxSelectionEnabled: false,
      selectionType: 'single'
    });
    state.cy = cy;
    runLayout(cy);

    cy.on('tap', 'node', function (event) { showNode(event.target); });
    cy.on('tap', 'edge', function (event) { showEdge(event.target); });

    var input = document.getElementById('search');
    input.addEventListener('input', function () { search(cy, input.value); });
    input.addEventListener('keydown', function (event) {
      if (event.key !== 'Enter') { return; }
      var hits = search(cy, input.value);
      if (hits.length) {
        cy.elements().unselect();
        hits[0].select();
        cy.center(hits[0]);
        showNode(hits[0]);
      }
    });
    document.getElementById('fit').addEventListener('click', function () { cy.fit(undefined, 30); });

    // #node=<id> in the URL selects a node (a report can point at one).
    var hash = '';
    try { hash = decodeURIComponent(window.location.hash.slice(1)); } catch (e) { hash = ''; }
    if (hash.indexOf('node=') === 0) {
      var wanted = cy.getElementById(hash.slice(5));
      if (wanted.length && wanted.isNode()) { wanted.select(); showNode(wanted); }
    }

    cy.one('render', function () {
      var placed = cy.nodes().filter(function (n) {
        var p = n.position();
        return isFinite(p.x) && isFinite(p.y);
      });
      document.body.setAttribute('data-rendered-nodes', String(placed.length));
      document.body.setAttribute('data-rendered-edges', String(cy.edges().length));
    });
    mark();
  }

  document.addEventListener('DOMContentLoaded', function () {
    try {
      start();
    } catch (err) {
      state.errors += 1;
      mark();
      var banner = document.getElementById('banner');
      banner.textContent = 'The viewer failed: ' + String(err && err.message ? err.message : err);
      banner.hidden = false;
      throw err;
    }
  });
}());
