package redislink

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/panics"
)

// link is one connection (command or pub/sub) to one instance, served by one
// goroutine.
type link struct {
	t     *Transport
	key   linkKey
	ref   sentinel.Ref // as given in the CmdConnect
	which sentinel.Link
	setup [][]string // set-up commands run by onConnect (pub/sub link)
	sub   *sharedSub // the shared subscription this pub/sub link serves
	// connect is the CmdConnect that opened the link; its set-up commands
	// (AUTH, CLIENT SETNAME) also open the publish connection.
	connect sentinel.Command
	// parent is set on a publish connection: the command link whose hello
	// PUBLISHes it carries (see enqueuePublish).
	parent *link

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}

	mu       sync.Mutex
	queue    []sentinel.Command
	client   *redis.Client
	ps       *redis.PubSub
	closing  bool  // closed on the core's request: report nothing
	failErr  error // failed locally (queue overflow): report this
	finished bool
	// Peer links (proof.go): the verifier's key.
	secret string
	pub    *link // the publish connection, once opened

	// dialMu guards what the dialer learns, which runs inside go-redis
	// with its locks held (a PubSub holds its own while it dials): it is
	// a leaf lock, and never mu, which is held while closing go-redis
	// clients (stopLocked): a close waiting for the PubSub's lock and a
	// dial waiting for mu deadlocked the agent's loop (issue 13, the
	// campaign's rolling restart).
	dialMu  sync.Mutex
	localIP string
	proof   sentinel.PeerProof // how the peer was verified

	// current is the command being executed; only the link's goroutine
	// uses it, so that a panic can still answer it.
	current *sentinel.Command
}

func newLink(t *Transport, key linkKey, connect sentinel.Command) *link {
	ctx, cancel := context.WithCancel(context.Background())
	var secret string
	if connect.To.Kind == sentinel.KindSentinel {
		secret = authSecret(connect.Cmds)
	}
	return &link{
		secret:  secret,
		t:       t,
		key:     key,
		ref:     connect.To,
		which:   connect.Link,
		connect: connect,
		ctx:     ctx,
		cancel:  cancel,
		wake:    make(chan struct{}, 1),
	}
}

// setLocal records our side's address of the connection, which the core
// announces in hellos.
func (l *link) setLocal(a net.Addr) {
	if tcp, ok := a.(*net.TCPAddr); ok {
		l.dialMu.Lock()
		l.localIP = tcp.IP.String()
		l.dialMu.Unlock()
	}
}

// name is how logs call the link.
func (l *link) name() string {
	switch {
	case l.parent != nil:
		return "publish"
	case l.which == sentinel.LinkPubSub:
		return "pubsub"
	}
	return "cmd"
}

// badReply hears that the server sent a reply the bounds refuse: it is
// logged and counted here, where the link is known, and the read error
// then closes the link (LinkDown carries the same error).
func (l *link) badReply(err error) {
	l.t.badReplies.Add(1)
	l.t.warnLimited("refused a reply; closing the link", "addr", l.ref.Addr.String(), "master", l.ref.Master,
		"kind", l.ref.Kind.String(), "link", l.name(), "err", err)
}

func (l *link) linkUp() sentinel.LinkUp {
	l.dialMu.Lock()
	defer l.dialMu.Unlock()
	return sentinel.LinkUp{To: l.ref, Link: l.which, LocalIP: l.localIP, Proof: l.proof}
}

func (l *link) setProof(p sentinel.PeerProof) {
	l.dialMu.Lock()
	l.proof = p
	l.dialMu.Unlock()
}

// enqueue adds cmd to the queue. It returns false if the link cannot take it.
func (l *link) enqueue(cmd sentinel.Command) bool {
	if cmd.Kind == sentinel.CmdPublish && l.publishesApart() {
		return l.enqueuePublish(cmd)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing || l.failErr != nil || l.finished {
		return false
	}
	if l.which == sentinel.LinkPubSub {
		// The pub/sub link is subscribed: it cannot carry commands.
		return false
	}
	if len(l.queue) >= l.t.opts.MaxQueue {
		l.failLocked(errorf("%d commands queued, instance not answering", len(l.queue)))
		return false
	}
	l.queue = append(l.queue, cmd)
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

// publishesApart reports whether the link sends its hello PUBLISHes on a
// connection of their own.
//
// Redis runs one client's commands in order, so a PUBLISH that blocks holds
// up every command sent after it on the same connection. CLIENT PAUSE WRITE
// (fencing) blocks PUBLISH: on a shared connection the PINGs behind it would
// go unanswered, and every other agent would see a healthy paused master as
// down and fail it over. Sentinel sends hellos on its command connection;
// we give them one of their own, opened on the first PUBLISH with the same
// set-up commands, so that PING and INFO never wait for one. Links to peer
// agents keep a single connection: agents do not pause, and a second
// connection per peer would cost the peer an API client slot.
func (l *link) publishesApart() bool {
	return l.parent == nil && l.which == sentinel.LinkCmd && l.ref.Kind != sentinel.KindSentinel
}

// enqueuePublish queues cmd on the publish connection, opening it if
// needed. A publish connection that fails reports PublishReply{OK: false}
// for its commands, never LinkDown: the command link stays up, and the next
// PUBLISH opens a new connection.
func (l *link) enqueuePublish(cmd sentinel.Command) bool {
	l.mu.Lock()
	if l.closing || l.failErr != nil || l.finished {
		l.mu.Unlock()
		return false
	}
	p := l.pub
	if p == nil {
		p = newLink(l.t, l.key, l.connect)
		p.parent = l
		l.pub = p
		// Safe against Transport.Close's Wait: this link's own goroutine
		// holds a count until it is finished, which it is not.
		l.t.wg.Add(1)
		go p.run(l.connect)
	}
	l.mu.Unlock()
	return p.enqueue(cmd)
}

// pubGone forgets p as the publish connection if it still is.
func (l *link) pubGone(p *link) {
	l.mu.Lock()
	if l.pub == p {
		l.pub = nil
	}
	l.mu.Unlock()
}

// close shuts the link down on the core's request.
func (l *link) close() {
	l.mu.Lock()
	l.closing = true
	l.stopLocked()
	l.mu.Unlock()
}

func (l *link) failLocked(err error) {
	if l.failErr == nil {
		l.failErr = err
	}
	l.stopLocked()
}

// stopLocked cancels the link's context and closes its sockets, which
// unblocks a goroutine waiting for a reply.
func (l *link) stopLocked() {
	l.cancel()
	if l.pub != nil {
		l.pub.close()
	}
	if l.ps != nil {
		_ = l.ps.Close()
	}
	if l.client != nil {
		_ = l.client.Close()
	}
}

// next waits for the next queued command. It returns false when the link is
// stopping.
func (l *link) next() (sentinel.Command, bool) {
	for {
		l.mu.Lock()
		if l.closing || l.failErr != nil {
			l.mu.Unlock()
			return sentinel.Command{}, false
		}
		if len(l.queue) > 0 {
			cmd := l.queue[0]
			l.queue[0] = sentinel.Command{}
			l.queue = l.queue[1:]
			l.mu.Unlock()
			return cmd, true
		}
		l.mu.Unlock()
		select {
		case <-l.wake:
		case <-l.ctx.Done():
		}
	}
}

func (l *link) run(connect sentinel.Command) {
	defer l.t.wg.Done()
	l.finish(l.serve(connect))
}

// serve runs the link until it ends. A panic (a bug, likely triggered by
// what the server sent) ends only this link, as a failure.
func (l *link) serve(connect sentinel.Command) (err error) {
	defer panics.Recover(l.t.log, &l.t.panics, "link goroutine panicked; closing the link",
		func(e *panics.Error) {
			err = e
			if l.current != nil {
				l.t.failCommand(*l.current, "link failed: "+e.Error())
			}
		},
		"addr", l.ref.Addr.String(), "master", l.ref.Master, "kind", l.ref.Kind.String(), "link", l.name())
	if l.which == sentinel.LinkPubSub {
		return l.runPubSub(connect)
	}
	return l.runCmd(connect)
}

// finish reports the end of the link (unless the core closed it) and fails
// whatever was still queued.
func (l *link) finish(err error) {
	l.mu.Lock()
	l.finished = true
	closing := l.closing
	if l.failErr != nil {
		err = l.failErr
	}
	queued := l.queue
	l.queue = nil
	l.stopLocked()
	l.mu.Unlock()
	refs := []sentinel.Ref{l.ref}
	switch {
	case l.parent != nil:
		l.parent.pubGone(l)
		if !closing && err != nil {
			l.t.log.Debug("publish connection closed", "addr", l.ref.Addr.String(), "master", l.ref.Master, "err", err)
		}
		closing = true // the command link reports for the instance
	case l.sub != nil:
		refs = l.t.subGone(l.sub)
	default:
		l.t.forget(l)
	}

	if !closing {
		if err == nil {
			err = errors.New("connection closed")
		}
		var ae *AuthError
		down := sentinel.LinkDown{To: l.ref, Link: l.which, Err: err.Error()}
		if errors.Is(err, ErrPeerProof) {
			l.t.proofFailed(l.ref, err)
		}
		if errors.As(err, &ae) {
			down.AuthFailed = true
			l.t.warnLimited("authentication refused", "addr", l.ref.Addr.String(), "master", l.ref.Master, "kind", l.ref.Kind.String(), "err", ae.Msg)
		} else {
			l.t.log.Debug("link down", "addr", l.ref.Addr.String(), "master", l.ref.Master, "link", int(l.which), "err", err)
		}
		for _, r := range refs {
			down.To = r
			l.t.report(down)
		}
	}
	for _, cmd := range queued {
		l.t.failCommand(cmd, "link closed before the command was sent")
	}
}

// onConnect runs the link's set-up commands on every new connection go-redis
// opens for it (the pub/sub link opens its connection internally).
func (l *link) onConnect(ctx context.Context, cn *redis.Conn) error {
	for _, c := range l.setup {
		if err := l.setupCommand(ctx, cn, c); err != nil {
			return err
		}
	}
	return nil
}

// setupCommand runs one set-up command (AUTH, CLIENT SETNAME). Error replies
// are ignored as Sentinel ignores them, except refused credentials.
func (l *link) setupCommand(ctx context.Context, cn *redis.Conn, c []string) error {
	if len(c) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.t.opts.CommandTimeout)
	defer cancel()
	err := cn.Do(ctx, toArgs(c)...).Err()
	switch {
	case err == nil:
		return nil
	case !isRedisError(err):
		return err
	case isAuthError(err.Error()):
		return &AuthError{Msg: err.Error()}
	case isHarmlessAuthError(err.Error()):
		l.t.warnLimited("auth configured but the instance has no password", "addr", l.ref.Addr.String(), "master", l.ref.Master)
		return nil
	default:
		l.t.log.Debug("set-up command refused", "addr", l.ref.Addr.String(), "cmd", describe(c), "err", err)
		return nil
	}
}

// runCmd serves the command link until it fails or is closed.
func (l *link) runCmd(connect sentinel.Command) error {
	client := redis.NewClient(l.t.clientOptions(l.ref.Addr.String(), l))
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		_ = client.Close()
		return nil
	}
	l.client = client
	l.mu.Unlock()
	conn := client.Conn()
	defer conn.Close()

	for _, c := range connect.Cmds {
		if err := l.setupCommand(l.ctx, conn, c); err != nil {
			return err
		}
	}
	if len(connect.Cmds) == 0 {
		// Make sure the connection really exists before LinkUp (and, for
		// a peer, that go-redis dialled it, which runs the proof).
		ctx, cancel := context.WithTimeout(l.ctx, l.t.opts.CommandTimeout)
		err := conn.Ping(ctx).Err()
		cancel()
		if err != nil && !isRedisError(err) {
			return err
		}
	}
	if l.ref.Kind == sentinel.KindSentinel {
		l.dialMu.Lock()
		proof := l.proof
		l.dialMu.Unlock()
		if proof == sentinel.ProofListed || proof == sentinel.ProofCert {
			if err := l.checkMyID(l.ctx, conn); err != nil {
				return err
			}
		}
	}
	if l.parent == nil {
		l.t.report(l.linkUp())
	}

	for {
		cmd, ok := l.next()
		if !ok {
			return nil
		}
		l.current = &cmd
		err := l.exec(conn, cmd)
		l.current = nil
		if err != nil {
			return err
		}
	}
}

// exec runs one command and reports its outcome. It returns an error only
// when the connection is no longer usable.
func (l *link) exec(conn *redis.Conn, cmd sentinel.Command) error {
	// go-redis bounds each command with ReadTimeout and WriteTimeout
	// (CommandTimeout); a context timer per command would only add a timer
	// and an allocation to every PING.
	ctx := l.ctx
	if l.t.beforeExec != nil {
		l.t.beforeExec(cmd)
	}
	if len(cmd.Cmds) == 0 {
		l.t.failCommand(cmd, "no command to send")
		return nil
	}
	switch cmd.Kind {
	case sentinel.CmdPing:
		res, err := conn.Do(ctx, toArgs(cmd.Cmds[0])...).Result()
		if err != nil {
			if !isRedisError(err) {
				return err
			}
			l.t.report(sentinel.PingReply{To: cmd.To, Status: firstWord(err.Error())})
			return nil
		}
		status, _ := res.(string)
		l.t.report(sentinel.PingReply{To: cmd.To, Status: status})
	case sentinel.CmdInfo:
		res, err := conn.Do(ctx, toArgs(cmd.Cmds[0])...).Result()
		if err != nil {
			if !isRedisError(err) {
				return err
			}
			// Sentinel ignores error replies to INFO; the next PING tells
			// the core what is wrong. An InfoReply without Info still
			// settles the command.
			l.t.log.Debug("info refused", "addr", cmd.To.Addr.String(), "err", err)
			l.t.report(sentinel.InfoReply{To: cmd.To})
			return nil
		}
		raw, ok := res.(string)
		if !ok {
			l.t.warnLimited("info reply is not a string", "addr", cmd.To.Addr.String())
			l.t.report(sentinel.InfoReply{To: cmd.To})
			return nil
		}
		info, perr := sentinel.ParseInfo(raw)
		if perr != nil {
			l.t.warnLimited("unusable INFO reply", "addr", cmd.To.Addr.String(), "master", cmd.To.Master, "err", perr)
		}
		l.t.report(sentinel.InfoReply{To: cmd.To, Info: info, Raw: raw})
	case sentinel.CmdPublish:
		err := conn.Do(ctx, toArgs(cmd.Cmds[0])...).Err()
		if err != nil && !isRedisError(err) {
			l.t.report(sentinel.PublishReply{To: cmd.To, OK: false})
			return err
		}
		l.t.report(sentinel.PublishReply{To: cmd.To, OK: err == nil})
	case sentinel.CmdAskMasterDown:
		res, err := conn.Do(ctx, toArgs(cmd.Cmds[0])...).Result()
		if err != nil && !isRedisError(err) {
			l.t.report(sentinel.IsDownReply{To: cmd.To})
			return err
		}
		l.t.report(parseIsDown(cmd.To, res, err))
	case sentinel.CmdTransaction:
		return l.transaction(ctx, conn, cmd)
	case sentinel.CmdOther:
		var firstErr, reply string
		for _, c := range cmd.Cmds {
			res, err := conn.Do(ctx, toArgs(c)...).Result()
			if err != nil && !isRedisError(err) {
				l.t.report(sentinel.CommandDone{ID: cmd.ID, To: cmd.To, Err: err.Error()})
				return err
			}
			if err != nil && firstErr == "" {
				firstErr = describe(c) + ": " + err.Error()
			}
			reply, _ = res.(string) // CLIENT LIST: the core reads it (bounded)
		}
		l.t.report(sentinel.CommandDone{ID: cmd.ID, To: cmd.To, Err: firstErr, Reply: reply})
	default:
		l.t.failCommand(cmd, "unsupported command kind")
	}
	return nil
}

// transaction sends MULTI ... EXEC as one pipelined write, as Sentinel does,
// so a connection lost half-way leaves an unexecuted MULTI that Redis
// discards. CommandDone.Err reports only a failure of the transaction as a
// whole; errors of individual queued commands (a CONFIG REWRITE on a server
// without a config file) are logged, because Sentinel judges the outcome by
// INFO, not by these replies.
func (l *link) transaction(ctx context.Context, conn *redis.Conn, cmd sentinel.Command) error {
	cmds, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range cmd.Cmds {
			p.Do(ctx, toArgs(c)...)
		}
		return nil
	})
	if err != nil && !isRedisError(err) {
		l.t.report(sentinel.CommandDone{ID: cmd.ID, To: cmd.To, Err: err.Error()})
		return err
	}
	done := sentinel.CommandDone{ID: cmd.ID, To: cmd.To}
	if len(cmds) == 0 {
		done.Err = "transaction not sent"
		l.t.report(done)
		return nil
	}
	last := cmds[len(cmds)-1].(*redis.Cmd)
	res, execErr := last.Result()
	switch {
	case execErr == redis.Nil:
		done.Err = "EXEC: transaction aborted"
	case execErr != nil:
		done.Err = "EXEC: " + execErr.Error()
		// A command refused at queue time (unknown renamed command) makes
		// EXEC fail; name it.
		for i, c := range cmds[:len(cmds)-1] {
			if e := c.Err(); e != nil {
				done.Err += "; " + describe(cmd.Cmds[i]) + ": " + e.Error()
				break
			}
		}
	default:
		if arr, ok := res.([]any); ok {
			for _, v := range arr {
				if e, ok := v.(error); ok {
					l.t.log.Warn("command in transaction failed", "addr", cmd.To.Addr.String(), "err", e)
				}
			}
		}
	}
	l.t.report(done)
	return nil
}

// parseIsDown turns the reply to SENTINEL is-master-down-by-addr into an
// IsDownReply; any shape other than [int, bulk, int] is invalid.
func parseIsDown(to sentinel.Ref, res any, err error) sentinel.IsDownReply {
	r := sentinel.IsDownReply{To: to}
	if err != nil {
		return r
	}
	arr, ok := res.([]any)
	if !ok || len(arr) != 3 {
		return r
	}
	down, ok1 := arr[0].(int64)
	leader, ok2 := arr[1].(string)
	epoch, ok3 := arr[2].(int64)
	if !ok1 || !ok2 || !ok3 || epoch < 0 {
		return r
	}
	r.Valid = true
	r.Down = down == 1
	r.Leader = leader
	r.LeaderEpoch = uint64(epoch)
	return r
}

// runPubSub serves the pub/sub link: set-up commands, SUBSCRIBE, then every
// message received becomes a Hello.
func (l *link) runPubSub(connect sentinel.Command) error {
	if len(connect.Cmds) == 0 {
		return errors.New("pub/sub link needs a SUBSCRIBE command")
	}
	sub := connect.Cmds[len(connect.Cmds)-1]
	if len(sub) < 2 || !strings.EqualFold(sub[0], "subscribe") {
		// go-redis issues SUBSCRIBE under its own name; a renamed
		// SUBSCRIBE cannot be honoured on the pub/sub link.
		return errorf("pub/sub link: subscription command %q is not SUBSCRIBE (renaming SUBSCRIBE is not supported)", describe(sub))
	}
	l.setup = connect.Cmds[:len(connect.Cmds)-1]
	client := redis.NewClient(l.t.clientOptions(l.ref.Addr.String(), l))
	ps := client.Subscribe(l.ctx)
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		_ = ps.Close()
		_ = client.Close()
		return nil
	}
	l.client, l.ps = client, ps
	l.mu.Unlock()

	ctx, cancel := context.WithTimeout(l.ctx, l.t.opts.CommandTimeout)
	err := ps.Subscribe(ctx, sub[1:]...)
	if err == nil {
		var msg any
		msg, err = ps.ReceiveTimeout(ctx, l.t.opts.CommandTimeout)
		if err == nil {
			if _, ok := msg.(*redis.Subscription); !ok {
				err = errorf("unexpected reply %T to SUBSCRIBE", msg)
			}
		}
	}
	cancel()
	if err != nil {
		return classify(err)
	}
	if l.sub == nil {
		l.t.report(l.linkUp())
	} else {
		for _, up := range l.t.subUp(l.sub, l.linkUp().LocalIP) {
			l.t.report(up)
		}
	}
	for {
		msg, err := ps.ReceiveTimeout(l.ctx, 0)
		if err != nil {
			return classify(err)
		}
		m, ok := msg.(*redis.Message)
		if !ok {
			continue
		}
		via := l.ref
		if l.sub != nil {
			if via, ok = l.t.subVia(l.sub, m.Payload); !ok {
				continue
			}
		}
		l.t.report(sentinel.Hello{Via: via, Payload: m.Payload})
	}
}

// classify keeps AuthErrors and turns auth-related error replies into them.
func classify(err error) error {
	var ae *AuthError
	if errors.As(err, &ae) {
		return ae
	}
	if isRedisError(err) && isAuthError(err.Error()) {
		return &AuthError{Msg: err.Error()}
	}
	return err
}
