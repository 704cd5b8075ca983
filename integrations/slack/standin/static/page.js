// Keeps the stand-in's page live: server-sent events from /page/stream, or long polls of /page/changes
// when EventSource is missing, the stream never opens, or the page was opened with ?live=poll.
// Every message's HTML comes from the server already escaped; text this script writes uses textContent.
"use strict";
(function () {
  const body = document.body;
  const instance = body.dataset.instance;
  let revision = Number(body.dataset.revision);
  const live = document.getElementById("live");

  function state(name, words) {
    live.dataset.state = name;
    live.textContent = words;
    body.dataset.live = name;
  }

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content.firstElementChild;
  }

  function channelMessages(name) {
    const sectionId = "c-" + name;
    let section = document.getElementById(sectionId);
    if (!section) {
      const empty = document.getElementById("empty");
      if (empty) empty.remove();
      section = document.createElement("section");
      section.className = "channel";
      section.id = sectionId;
      section.dataset.channel = name;
      const title = document.createElement("h2");
      title.className = "channel-name";
      title.textContent = "# " + name;
      const list = document.createElement("div");
      list.className = "messages";
      section.append(title, list);
      document.getElementById("channels").append(section);
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "#" + sectionId;
      link.textContent = "# " + name;
      item.append(link);
      document.getElementById("channel-list").append(item);
    }
    return section.querySelector(".messages");
  }

  function insertByTs(container, element) {
    const ts = Number(element.dataset.ts);
    const later = Array.from(container.children).find((child) => Number(child.dataset.ts) > ts);
    container.insertBefore(element, later || null);
  }

  function countReplies(thread) {
    thread.dataset.replies = String(thread.children.length);
  }

  function apply(change) {
    const incoming = fragment(change.html);
    const existing = document.getElementById(change.id);
    if (existing) {
      existing.querySelector(".content").replaceWith(incoming.querySelector(".content"));
      existing.classList.remove("flash");
      void existing.offsetWidth; // restart the highlight animation
      existing.classList.add("flash");
      return;
    }
    const scroller = document.getElementById("channels");
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    if (change.parent) {
      const parent = document.getElementById(change.parent);
      if (!parent) return; // its parent was deleted meanwhile
      const thread = parent.querySelector(".thread");
      insertByTs(thread, incoming);
      countReplies(thread);
    } else {
      insertByTs(channelMessages(change.channel), incoming);
    }
    if (atBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  function applyDocument(doc) {
    if (doc.instance !== instance || !doc.complete) {
      location.reload(); // the stand-in restarted, or deletions were missed: start over
      return;
    }
    doc.changes.forEach(apply);
    doc.deleted.forEach((id) => {
      const element = document.getElementById(id);
      if (!element) return;
      const thread = element.parentElement;
      element.remove();
      if (thread.classList.contains("thread")) countReplies(thread);
    });
    revision = Math.max(revision, doc.revision);
    body.dataset.revision = String(revision);
  }

  function poll() {
    state("live", "live (polling)");
    fetch("/page/changes?wait=20&after=" + revision, { cache: "no-store" })
      .then((answer) => {
        if (!answer.ok) throw new Error("HTTP " + answer.status);
        return answer.json();
      })
      .then((doc) => {
        applyDocument(doc);
        poll();
      })
      .catch(() => {
        state("offline", "offline, retrying…");
        setTimeout(poll, 2000);
      });
  }

  function stream() {
    let opened = false;
    const source = new EventSource("/page/stream?after=" + revision);
    const giveUp = setTimeout(() => {
      if (!opened) {
        source.close();
        poll();
      }
    }, 5000);
    source.addEventListener("hello", (event) => {
      opened = true;
      clearTimeout(giveUp);
      state("live", "live");
      if (JSON.parse(event.data).instance !== instance) location.reload();
    });
    source.addEventListener("changes", (event) => applyDocument(JSON.parse(event.data)));
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(giveUp);
        poll();
      } else {
        state("offline", "reconnecting…");
      }
    };
  }

  const forcePoll = new URLSearchParams(location.search).get("live") === "poll";
  if (window.EventSource && !forcePoll) stream();
  else poll();
})();
