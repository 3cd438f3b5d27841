// Command go-gorilla is a peer for Gateway.Bench: Go's net/http with gorilla/websocket, in the
// shape of gorilla's chat example. Each client has a reader goroutine and a writer goroutine fed
// by a buffered channel; a publish drops a client whose channel is full rather than wait for it.
// See ../CONTRACT.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// Time allowed to write one message to a client.
	writeWait = 10 * time.Second
	// Ping period, and how long a client may stay silent (no pong, no message) before it is dropped.
	pingPeriod = 15 * time.Second
	pongWait   = 60 * time.Second
	// Clients only listen; anything larger than a control frame is a mistake.
	maxMessageSize = 512
	// Events a client may have waiting before it counts as too slow, as in gorilla's chat example.
	sendBuffer = 256
	// Largest accepted publish body.
	maxBodyBytes = 1 << 20
)

var upgrader = websocket.Upgrader{
	// The bench's clients are not browsers; there is no origin to check.
	CheckOrigin: func(r *http.Request) bool { return true },
}

type client struct {
	conn *websocket.Conn
	send chan []byte
}

type hub struct {
	mu          sync.Mutex
	sessions    map[string]map[*client]struct{}
	connections atomic.Int64
}

func (h *hub) join(session string, c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	clients := h.sessions[session]
	if clients == nil {
		clients = make(map[*client]struct{})
		h.sessions[session] = clients
	}
	clients[c] = struct{}{}
	h.connections.Add(1)
}

// leave takes c out of its session and closes its channel, which stops its writer. It is called
// once per client, by its reader or by a publish that found the client too slow.
func (h *hub) leave(session string, c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	clients := h.sessions[session]
	if _, ok := clients[c]; !ok {
		return
	}
	delete(clients, c)
	if len(clients) == 0 {
		delete(h.sessions, session)
	}
	close(c.send)
	h.connections.Add(-1)
}

func (h *hub) publish(session string, payload []byte) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	clients := h.sessions[session]
	sent := 0
	for c := range clients {
		select {
		case c.send <- payload:
			sent++
		default:
			// Too slow: drop it rather than hold up the session.
			delete(clients, c)
			close(c.send)
			h.connections.Add(-1)
		}
	}
	if len(clients) == 0 {
		delete(h.sessions, session)
	}
	return sent
}

func (h *hub) serveWs(w http.ResponseWriter, r *http.Request) {
	session := strings.TrimPrefix(r.URL.Path, "/ws/")
	if session == "" || strings.Contains(session, "/") {
		http.NotFound(w, r)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client already.
	}
	c := &client{conn: conn, send: make(chan []byte, sendBuffer)}
	h.join(session, c)
	go c.writePump()
	go c.readPump(h, session)
}

// readPump discards what the client sends; gorilla answers its pings and close frames. It ends
// when the connection fails or closes.
func (c *client) readPump(h *hub, session string) {
	defer func() {
		h.leave(session, c)
		c.conn.Close()
	}()
	c.conn.SetReadLimit(maxMessageSize)
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error {
		c.conn.SetReadDeadline(time.Now().Add(pongWait))
		return nil
	})
	for {
		if _, _, err := c.conn.ReadMessage(); err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(pongWait))
	}
}

// writePump is the only writer of the connection: events from the channel, one message each,
// and a ping every pingPeriod.
func (c *client) writePump() {
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case payload, ok := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "too slow"))
				return
			}
			if err := c.conn.WriteMessage(websocket.TextMessage, payload); err != nil {
				return
			}
		case <-ticker.C:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

func (h *hub) servePublish(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/api/sessions/")
	session := strings.TrimSuffix(rest, "/events")
	if r.Method != http.MethodPost || session == rest || session == "" || strings.Contains(session, "/") {
		http.NotFound(w, r)
		return
	}
	var body struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&body); err != nil || body.Data == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `the body must be {"event":"...","data":...}`})
		return
	}
	sent := h.publish(session, body.Data)
	writeJSON(w, http.StatusAccepted, map[string]int{"sent": sent})
}

func (h *hub) serveStats(w http.ResponseWriter, r *http.Request) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	writeJSON(w, http.StatusOK, map[string]uint64{"heapBytes": m.HeapAlloc, "connections": uint64(h.connections.Load())})
}

func writeJSON(w http.ResponseWriter, status int, value any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(value)
}

func main() {
	port := flag.Int("port", 5000, "port to listen on, on 127.0.0.1")
	flag.Parse()

	h := &hub{sessions: make(map[string]map[*client]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws/", h.serveWs)
	mux.HandleFunc("/api/sessions/", h.servePublish)
	mux.HandleFunc("/stats", h.serveStats)
	server := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", *port), Handler: mux}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()

	// WebSocket connections are hijacked and not Shutdown's to wait for; they end with the process.
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	server.Shutdown(shutdown)
}
