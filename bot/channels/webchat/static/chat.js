/* Baraza web chat: talks to POST /api/messages and POST /api/upload (see
 * bot/channels/webchat/adapter.py for the contract).
 *
 * Message texts are only ever put in the page with textContent, never as HTML (formatted
 * replies too: their spans become <strong>, <em> and <a> elements whose text is set as text).
 * Posts go one after the other, in the order the user made them.
 * A question that wants a file or a position ("expects") gets a file picker (the camera on a
 * phone) or a "Share my location" button under it; a position can also be typed.
 * A link button ("Open the release") is a link that opens in a new tab; it posts nothing.
 * Buttons of earlier messages are retired (shown as answered, no longer pressable) once newer
 * buttons come. The page's own words, <html lang> and dir follow the conversation's language
 * ("interface" in each answer). Inside a frame on another website (/embed, see embed.js) the
 * posts say so (?embed=1), so the session cookie is set as a third-party cookie.
 */
"use strict";

(function () {
  var RESUME_PAYLOAD = "resume";
  var EMBEDDED = document.documentElement.getAttribute("data-embed") === "1";
  var API_URL = "/api/messages" + (EMBEDDED ? "?embed=1" : "");
  var UPLOAD_URL = "/api/upload" + (EMBEDDED ? "?embed=1" : "");
  /* A tick box at the start of a select_multiple choice ("◻️ Red", "✅ Red"). */
  var TICK_RE = /^(?:\u25FB\uFE0F?|\u2705|\u2611\uFE0F?|\u2610)\s*/;
  var LOCATION_TIMEOUT_MS = 30000;
  var REQUEST_TIMEOUT_MS = 30000;
  var UPLOAD_TIMEOUT_MS = 180000; /* a 10 MB video over a slow mobile connection */
  var RETRY_DELAY_MS = 800;
  var TYPING_DELAY_MS = 300;

  var log = document.getElementById("log");
  var transcript = document.getElementById("transcript");
  var form = document.getElementById("composer");
  var input = document.getElementById("message-input");
  var status = document.getElementById("status");
  var sendButton = document.getElementById("send-button");
  var inputLabel = document.querySelector('label[for="message-input"]');

  /* The page's own words in English until the server says the conversation's language. */
  var ui = {
    placeholder: input.getAttribute("placeholder") || "Type your answer",
    send: "Send",
    message_label: "Your message",
    you_said: "You said:",
    bot_said: "Baraza said:",
    choices: "Choices",
    typing: "Baraza is typing…",
    try_again: "Try again",
    not_sent: "Not sent",
    network_error: "Your message could not be sent. Check your connection and try again.",
    server_error: "Something went wrong on our side. Please try again.",
    geo_placeholder: "Latitude, longitude",
    file_too_large: "That file is too large ({size}; at most {limit}). Please choose a smaller one.",
    too_many_requests: "You are sending messages very fast; please wait a moment and try again.",
    text_too_long: "That message is too long. Please shorten it and send it again.",
    close: "Close",
    notify_offer: "Notify me",
    notify_on: "Notifications on",
    notify_write: "Write a message first, then turn notifications on.",
    notify_denied: "Notifications are blocked in this browser's settings.",
    notify_failed: "Notifications could not be turned on.",
    take_photo: "📷 Take a photo",
    choose_photo: "🖼️ Choose a photo",
    record_audio: "🎙️ Record audio",
    choose_recording: "🎵 Choose a recording",
    record_video: "🎥 Record a video",
    choose_video: "🎞️ Choose a video",
    choose_file: "📎 Choose a file",
    typed_position: "Or type it as latitude, longitude (for example -1.2921, 36.8219)."
  };

  /* The words to push.js (the "Notify me" button) and, inside a frame on another website, to
   * embed.js there (its panel's "Close"): only words, never the conversation. */
  function shareInterface() {
    var lang = document.documentElement.getAttribute("lang") || "en";
    var detail = { lang: lang, words: ui };
    document.dispatchEvent(new CustomEvent("baraza:interface", { detail: detail }));
    if (EMBEDDED && window.parent !== window) {
      try {
        var ancestors = window.location.ancestorOrigins;
        var parentOrigin = ancestors && ancestors.length ? ancestors[0] : new URL(document.referrer).origin;
        window.parent.postMessage({ baraza: "interface", lang: lang, close: ui.close }, parentOrigin);
      } catch (error) { /* no usable referrer: the panel keeps its English "Close" */ }
    }
  }

  function applyInterface(words) {
    if (!words || typeof words !== "object") return;
    Object.keys(ui).forEach(function (key) {
      if (typeof words[key] === "string" && words[key]) ui[key] = words[key];
    });
    var root = document.documentElement;
    if (typeof words.lang === "string" && /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(words.lang)) {
      root.setAttribute("lang", words.lang);
    }
    if (words.dir === "rtl" || words.dir === "ltr") root.setAttribute("dir", words.dir);
    defaultPlaceholder = ui.placeholder;
    sendButton.textContent = ui.send;
    if (inputLabel) inputLabel.textContent = ui.message_label;
    refreshAnswerTools();
    shareInterface();
  }

  /* The office's look (web.embed in config.yaml): colour, logo, greeting under its name. */
  function applyLook() {
    var element = document.getElementById("baraza-look");
    var look = null;
    try {
      look = element ? JSON.parse(element.textContent) : null;
    } catch (e) {
      look = null;
    }
    if (!look || typeof look !== "object") return;
    var root = document.documentElement.style;
    if (/^#[0-9A-Fa-f]{3,6}$/.test(look.colour || "")) {
      root.setProperty("--accent", look.colour);
      root.setProperty("--user-bg", look.colour);
    }
    if (/^#[0-9A-Fa-f]{3,6}$/.test(look.text_colour || "")) {
      root.setProperty("--accent-text", look.text_colour);
      root.setProperty("--user-text", look.text_colour);
    }
    var header = document.querySelector(".app-header");
    if (header && typeof look.logo === "string" && /^(https:\/\/|\/)/.test(look.logo)) {
      var logo = document.createElement("img");
      logo.className = "logo";
      logo.src = look.logo;
      logo.alt = "";
      header.insertBefore(logo, header.firstChild);
    }
    if (header && typeof look.greeting === "string" && look.greeting) {
      var line = document.createElement("p");
      line.className = "tagline";
      line.textContent = look.greeting;
      header.appendChild(line);
    }
  }

  var queue = Promise.resolve();
  var maxUploadBytes = null; /* told by the server with every answer */
  var defaultPlaceholder = input.getAttribute("placeholder") || "";
  var pending = 0;
  var typingTimer = null;

  /* ---- ids ------------------------------------------------------------------------------ */

  function newId() {
    var cryptoObj = window.crypto;
    if (cryptoObj && typeof cryptoObj.randomUUID === "function") {
      try {
        return cryptoObj.randomUUID();
      } catch (e) {
        /* randomUUID needs a secure context (https or localhost): fall through. */
      }
    }
    if (cryptoObj && typeof cryptoObj.getRandomValues === "function") {
      var bytes = new Uint8Array(16);
      cryptoObj.getRandomValues(bytes);
      bytes[6] = (bytes[6] & 0x0f) | 0x40;
      bytes[8] = (bytes[8] & 0x3f) | 0x80;
      var hex = "";
      for (var i = 0; i < bytes.length; i++) {
        hex += (bytes[i] + 0x100).toString(16).slice(1);
      }
      return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
        hex.slice(16, 20) + "-" + hex.slice(20);
    }
    return "id-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2) +
      Math.random().toString(36).slice(2);
  }

  /* ---- network -------------------------------------------------------------------------- */

  function SendError(kind, code, message) {
    this.kind = kind; /* "network" or "http" */
    this.code = code || null;
    this.message = message || null;
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  /* A JSON message, or a file as a multipart form (the browser sets its boundary). */
  function requestBody(body) {
    if (body instanceof FormData) return { headers: { "Accept": "application/json" }, body: body };
    return {
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    };
  }

  function postOnce(url, body) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timeout = body instanceof FormData ? UPLOAD_TIMEOUT_MS : REQUEST_TIMEOUT_MS;
    var timer = controller ? setTimeout(function () { controller.abort(); }, timeout) : null;
    var request = requestBody(body);
    return fetch(url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      credentials: "same-origin",
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    }).finally(function () {
      if (timer) clearTimeout(timer);
    });
  }

  /* Posts body (which carries its id) to url; a network error or a server error is retried once
   * with the same id, which the server processes only once. Resolves to the list of replies. */
  async function send(url, body) {
    var response = null;
    for (var attempt = 0; attempt < 2; attempt++) {
      try {
        response = await postOnce(url, body);
      } catch (e) {
        response = null;
      }
      if (response && response.status < 500) break;
      if (attempt === 0) await sleep(RETRY_DELAY_MS);
    }
    if (!response) throw new SendError("network");
    var data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) throw new SendError("http", data && data.error, data && data.message);
    if (!data || !Array.isArray(data.messages)) throw new SendError("http", "bad_response");
    if (typeof data.max_upload_bytes === "number") maxUploadBytes = data.max_upload_bytes;
    applyInterface(data.interface);
    return data.messages;
  }

  /* ---- rendering ------------------------------------------------------------------------ */

  function scrollToEnd() {
    transcript.scrollTop = transcript.scrollHeight;
  }

  function createMessage(role) {
    var item = document.createElement("div");
    item.className = "msg " + role;
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = (role === "user" ? ui.you_said : ui.bot_said) + " ";
    item.appendChild(who);
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    item.appendChild(bubble);
    return item;
  }

  function appendUserMessage(text) {
    var item = createMessage("user");
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = text;
    item.querySelector(".bubble").appendChild(p);
    log.appendChild(item);
    scrollToEnd();
    return item;
  }

  function appendNotice(text, retry) {
    var item = document.createElement("div");
    item.className = "msg notice error";
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = text;
    item.appendChild(p);
    if (retry) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.textContent = ui.try_again;
      button.addEventListener("click", function () {
        item.remove();
        retry();
      });
      item.appendChild(button);
    }
    log.appendChild(item);
    scrollToEnd();
    return item;
  }

  function dataUrlToBlobUrl(dataUrl, mimeType) {
    var comma = dataUrl.indexOf(",");
    if (comma < 0 || !/;base64$/.test(dataUrl.slice(0, comma))) return null;
    try {
      var binary = atob(dataUrl.slice(comma + 1));
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      return URL.createObjectURL(new Blob([bytes], { type: mimeType || "application/octet-stream" }));
    } catch (e) {
      return null;
    }
  }

  function formatSize(dataUrl) {
    var comma = dataUrl.indexOf(",");
    var bytes = Math.floor((dataUrl.length - comma - 1) * 3 / 4);
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function renderAttachment(attachment) {
    if (!attachment || typeof attachment.data_url !== "string") return null;
    var url = attachment.data_url;
    if (url.indexOf("data:") !== 0) return null; /* only what the server embedded */
    var filename = String(attachment.filename || "file");
    var mimeType = String(attachment.mime_type || "");
    if (attachment.kind === "image" && url.indexOf("data:image/") === 0) {
      var figure = document.createElement("figure");
      figure.className = "attachment image";
      var img = document.createElement("img");
      img.src = url;
      img.alt = String(attachment.alt || "Image: " + filename);
      img.decoding = "async";
      figure.appendChild(img);
      return figure;
    }
    var link = document.createElement("a");
    link.className = "attachment document";
    link.href = dataUrlToBlobUrl(url, mimeType) || url;
    link.download = filename;
    link.textContent = "Download " + filename + " (" + formatSize(url) + ")";
    return link;
  }

  /* Appends a reply's formatted spans ({text, bold, italic, link}) to p, as elements. */
  function appendSpans(p, spans) {
    spans.forEach(function (span) {
      if (!span || typeof span.text !== "string") return;
      var node = document.createTextNode(span.text);
      if (span.italic) {
        var em = document.createElement("em");
        em.appendChild(node);
        node = em;
      }
      if (span.bold) {
        var strong = document.createElement("strong");
        strong.appendChild(node);
        node = strong;
      }
      if (typeof span.link === "string" && /^(https?:|mailto:|tel:)/i.test(span.link)) {
        var a = document.createElement("a");
        a.href = span.link;
        a.rel = "noopener noreferrer";
        a.target = "_blank";
        a.appendChild(node);
        node = a;
      }
      p.appendChild(node);
    });
  }

  /* Fills a bot message element with a reply: text, attachment and buttons. */
  function fillBotMessage(item, message) {
    var bubble = item.querySelector(".bubble");
    bubble.textContent = "";
    var oldButtons = item.querySelector(".buttons");
    if (oldButtons) oldButtons.remove();
    delete item.dataset.busy;
    item.classList.remove("answered");

    var text = typeof message.text === "string" ? message.text : "";
    if (text) {
      var p = document.createElement("p");
      p.className = "text";
      if (Array.isArray(message.rich)) appendSpans(p, message.rich);
      else p.textContent = text;
      bubble.appendChild(p);
    }
    var attachment = renderAttachment(message.attachment);
    if (attachment) bubble.appendChild(attachment);
    if (!text && !attachment) bubble.classList.add("empty");
    else bubble.classList.remove("empty");

    var rows = Array.isArray(message.buttons) ? message.buttons : [];
    var group = null;
    rows.forEach(function (row) {
      if (!Array.isArray(row) || row.length === 0) return;
      if (!group) {
        group = document.createElement("div");
        group.className = "buttons";
        group.setAttribute("role", "group");
        group.setAttribute("aria-label", ui.choices);
      }
      var rowEl = document.createElement("div");
      rowEl.className = "row";
      row.forEach(function (choice) {
        if (!choice) return;
        if (typeof choice.url === "string") {
          /* A link button: a link to open, never a post (an empty payload answers nothing). */
          if (!/^https?:\/\//i.test(choice.url)) return;
          var link = document.createElement("a");
          link.className = "choice link-choice";
          link.href = choice.url;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
          link.textContent = String(choice.label) + " \u2197";
          rowEl.appendChild(link);
          return;
        }
        if (typeof choice.payload !== "string" || !choice.payload) return;
        var button = document.createElement("button");
        button.type = "button";
        button.className = "choice";
        button.textContent = String(choice.label);
        button.dataset.payload = choice.payload;
        button.addEventListener("click", function () {
          pressButton(item, button, String(choice.label), choice.payload);
        });
        rowEl.appendChild(button);
      });
      group.appendChild(rowEl);
    });
    if (group) item.appendChild(group);
    var tools = answerTools(message.expects, message.location_button);
    if (tools) item.appendChild(tools);
  }

  /* ---- files and positions -------------------------------------------------------------- */

  /* What the file pickers offer for each kind of media question: [interface word, accept, capture]. */
  var PICKERS = {
    image: [["take_photo", "image/*", "environment"], ["choose_photo", "image/*", null]],
    audio: [["record_audio", "audio/*", "user"], ["choose_recording", "audio/*", null]],
    video: [["record_video", "video/*", "environment"], ["choose_video", "video/*", null]],
    file: [["choose_file", "", null]]
  };
  var GEO = { geopoint: true, geotrace: true, geoshape: true };

  function answerTools(expects, locationLabel) {
    if (typeof expects !== "string") return null;
    var pickers = PICKERS[expects];
    if (!pickers && !GEO[expects]) return null;
    var tools = document.createElement("div");
    tools.className = "answer-tools";
    tools.dataset.expects = expects;
    if (pickers) {
      pickers.forEach(function (picker) {
        /* A label around the input: the picker opens from a click, a tap or the keyboard. */
        var label = document.createElement("label");
        label.className = "choice file-choice";
        var fileInput = document.createElement("input");
        fileInput.type = "file";
        fileInput.className = "visually-hidden";
        if (picker[1]) fileInput.accept = picker[1];
        if (picker[2]) fileInput.setAttribute("capture", picker[2]);
        fileInput.addEventListener("change", function () {
          var file = fileInput.files && fileInput.files[0];
          fileInput.value = "";
          if (file) sendFile(file, expects);
        });
        label.appendChild(fileInput);
        label.appendChild(document.createTextNode(ui[picker[0]]));
        tools.appendChild(label);
      });
    } else {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "choice location-choice";
      button.textContent = typeof locationLabel === "string" && locationLabel ? locationLabel : "📍 Share my location";
      button.addEventListener("click", function () { shareLocation(button); });
      tools.appendChild(button); /* the question's own text says a position can be typed */
    }
    return tools;
  }

  /* Only the latest question keeps its pickers: a file always answers the current question. */
  function refreshAnswerTools() {
    var bots = log.querySelectorAll(".msg.bot");
    var last = bots.length ? bots[bots.length - 1] : null;
    log.querySelectorAll(".answer-tools").forEach(function (tools) {
      if (!last || !last.contains(tools)) tools.remove();
    });
    var current = last && last.querySelector(".answer-tools");
    var geo = current && GEO[current.dataset.expects];
    input.setAttribute("placeholder", geo ? ui.geo_placeholder : defaultPlaceholder);
  }

  function formatBytes(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function appendUserFile(file) {
    var item = createMessage("user");
    var bubble = item.querySelector(".bubble");
    if (/^image\//.test(file.type || "")) {
      var figure = document.createElement("figure");
      figure.className = "attachment image";
      var img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = "Your photo: " + file.name;
      figure.appendChild(img);
      bubble.appendChild(figure);
    }
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = "📎 " + file.name + " (" + formatBytes(file.size) + ")";
    bubble.appendChild(p);
    log.appendChild(item);
    scrollToEnd();
    return item;
  }

  function markFailed(userItem) {
    userItem.classList.add("failed");
    var note = document.createElement("span");
    note.className = "failed-note";
    note.textContent = ui.not_sent;
    userItem.appendChild(note);
  }

  function sendFile(file, kind) {
    if (maxUploadBytes !== null && file.size > maxUploadBytes) {
      appendNotice(ui.file_too_large.replace("{size}", formatBytes(file.size)).replace("{limit}", formatBytes(maxUploadBytes)));
      return;
    }
    var userItem = appendUserFile(file);
    var form = new FormData();
    form.append("id", newId());
    form.append("kind", kind);
    form.append("file", file, file.name);
    enqueueRequest(UPLOAD_URL, form, {
      onError: function (error) {
        markFailed(userItem);
        appendNotice(errorText(error));
      }
    });
  }

  function positionText(coords) {
    var text = "📍 " + coords.latitude.toFixed(6) + ", " + coords.longitude.toFixed(6);
    if (typeof coords.accuracy === "number") text += " (±" + Math.round(coords.accuracy) + " m)";
    return text;
  }

  function locationFailure(reason) {
    appendNotice(reason + " " + ui.typed_position);
    input.focus();
  }

  function shareLocation(button) {
    if (button.getAttribute("aria-disabled") === "true") return;
    if (!window.isSecureContext || !navigator.geolocation) {
      locationFailure("This browser cannot give your location here.");
      return;
    }
    button.setAttribute("aria-disabled", "true");
    status.textContent = "Finding your location…";
    status.hidden = false;
    navigator.geolocation.getCurrentPosition(function (position) {
      button.setAttribute("aria-disabled", "false");
      status.hidden = true;
      var coords = position.coords;
      var location = { latitude: coords.latitude, longitude: coords.longitude };
      if (typeof coords.altitude === "number") location.altitude = coords.altitude;
      if (typeof coords.accuracy === "number") location.accuracy = coords.accuracy;
      var userItem = appendUserMessage(positionText(coords));
      enqueue({ location: location }, {
        onError: function (error) {
          markFailed(userItem);
          appendNotice(errorText(error));
        }
      });
    }, function (error) {
      button.setAttribute("aria-disabled", "false");
      status.hidden = true;
      var reason = error && error.code === 1 ? "Your location was not shared (permission denied)." :
        "Your location could not be found.";
      locationFailure(reason);
    }, { enableHighAccuracy: true, timeout: LOCATION_TIMEOUT_MS, maximumAge: 60000 });
  }

  function appendBotMessage(message) {
    var item = createMessage("bot");
    fillBotMessage(item, message);
    log.appendChild(item);
    return item;
  }

  function setMessageBusy(item, busy) {
    if (item.classList.contains("answered")) {
      delete item.dataset.busy;
      return;
    }
    if (busy) item.dataset.busy = "1";
    else delete item.dataset.busy;
    item.querySelectorAll("button.choice").forEach(function (button) {
      button.setAttribute("aria-disabled", busy ? "true" : "false");
    });
  }

  /* After an in-place update took the focused button away, put focus back somewhere useful. */
  function restoreFocus(item, payload, index) {
    var buttons = item.isConnected ? item.querySelectorAll("button.choice") : [];
    var target = null;
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].dataset.payload === payload) target = buttons[i];
    }
    if (!target && buttons.length) target = buttons[Math.min(index, buttons.length - 1)];
    if (!target) {
      var withButtons = log.querySelectorAll(".msg.bot .buttons");
      var last = withButtons.length ? withButtons[withButtons.length - 1] : null;
      target = (last && last.querySelector("button.choice")) || input;
    }
    target.focus({ preventScroll: true });
  }

  /* The buttons of a message that was answered or replaced: shown as such, never pressed again. */
  function retire(item) {
    if (item.classList.contains("answered")) return;
    var buttons = item.querySelectorAll("button.choice");
    if (!buttons.length) return;
    item.classList.add("answered");
    buttons.forEach(function (button) {
      button.disabled = true;
      button.setAttribute("aria-disabled", "true");
      button.tabIndex = -1;
    });
  }

  function hasButtons(message) {
    return Array.isArray(message.buttons) && message.buttons.some(function (row) {
      return Array.isArray(row) && row.some(function (b) { return b && typeof b.payload === "string" && b.payload; });
    });
  }

  function showReplies(messages, context) {
    var appended = false;
    var fresh = [];
    var pressed = context.pressed && context.pressed.isConnected ? context.pressed : null;
    messages.forEach(function (message) {
      if (!message || typeof message !== "object") return;
      if (message.replaces_pressed && pressed) {
        fillBotMessage(pressed, message);
        if (hasButtons(message)) {
          /* Still the same question (a tick, the list of questions to change): it shows the
           * choice itself, so the press is not echoed ("◻️ Red" was the box before the tick). */
          if (context.echo) context.echo.remove();
          fresh.push(pressed);
        } else if (context.echo && context.echo.isConnected) {
          /* The question closed with its answer: it reads after what the person pressed. */
          context.echo.parentNode.insertBefore(pressed, context.echo.nextSibling);
        }
      } else {
        var item = appendBotMessage(message);
        if (hasButtons(message)) fresh.push(item);
        appended = true;
      }
    });
    if (fresh.length) {
      /* Newer buttons came: every earlier message's buttons are answered or out of date. */
      log.querySelectorAll(".msg.bot").forEach(function (item) {
        if (fresh.indexOf(item) < 0) retire(item);
      });
    }
    if (appended) scrollToEnd();
    refreshAnswerTools();
  }

  /* ---- sending -------------------------------------------------------------------------- */

  function setTyping(on) {
    if (typingTimer) {
      clearTimeout(typingTimer);
      typingTimer = null;
    }
    if (on) {
      typingTimer = setTimeout(function () {
        status.textContent = ui.typing;
        status.hidden = false;
      }, TYPING_DELAY_MS);
    } else {
      status.hidden = true;
    }
  }

  function errorText(error) {
    if (error && error.kind === "http") {
      if (error.code === "text_too_long") {
        return ui.text_too_long;
      }
      if (error.code === "too_many_requests") {
        return ui.too_many_requests;
      }
      if (error.message && error.code && error.code !== "internal_error" && error.code !== "bad_response") {
        return error.message; /* the server says what was wrong with the message, file or position */
      }
      return ui.server_error;
    }
    return ui.network_error;
  }

  /* Queues one message post; context says what it is for (pressed message, typed text, resume). */
  function enqueue(fields, context) {
    var body = { id: newId() };
    Object.keys(fields).forEach(function (key) { body[key] = fields[key]; });
    return enqueueRequest(API_URL, body, context);
  }

  function enqueueRequest(url, body, context) {
    pending++;
    setTyping(true);
    queue = queue.then(async function () {
      try {
        var messages = await send(url, body);
        var hadFocus = context.pressed && context.pressed.contains(document.activeElement);
        showReplies(messages, context);
        if (context.pressed && hadFocus && !context.pressed.contains(document.activeElement)) {
          restoreFocus(context.pressed, context.payload, context.index);
        }
      } catch (error) {
        if (context.onError) context.onError(error);
        else appendNotice(errorText(error));
      } finally {
        if (context.pressed && context.pressed.isConnected && context.pressed.dataset.busy) {
          setMessageBusy(context.pressed, false);
        }
        pending--;
        if (pending === 0) setTyping(false);
      }
    });
    return queue;
  }

  function pressButton(item, button, label, payload) {
    if (item.dataset.busy) return; /* one press per message at a time */
    if (item.classList.contains("answered")) return;
    var buttons = Array.prototype.slice.call(item.querySelectorAll("button.choice"));
    var echo = appendUserMessage(label.replace(TICK_RE, ""));
    if (TICK_RE.test(label)) echo.classList.add("tick");
    setMessageBusy(item, true);
    enqueue({ payload: payload }, { pressed: item, echo: echo, payload: payload, index: buttons.indexOf(button) });
  }

  function sendText(text) {
    var userItem = appendUserMessage(text);
    enqueue({ text: text }, {
      onError: function (error) {
        markFailed(userItem);
        appendNotice(errorText(error));
        if (!input.value) input.value = text; /* so it can be sent again */
      }
    });
  }

  function resume() {
    enqueue({ payload: RESUME_PAYLOAD }, {
      onError: function (error) {
        appendNotice(errorText(error), resume);
      }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) {
      input.focus();
      return;
    }
    input.value = "";
    sendText(text);
    input.focus();
  });

  applyLook();
  resume();
})();
