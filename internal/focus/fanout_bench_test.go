package focus

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx/dialog"
)

// BenchmarkFanout1000 measures the Focus's side of a roster change alone:
// from the change on the meeting's goroutine until the last of 1,000
// BENOTIFYs has left, each to its subscriber's socket. The subscribers
// are one UDP socket that counts datagrams without parsing them, so that
// nothing but the Focus's work and the kernel's is measured
// (BenchmarkJoinLeave1000 has real SIP subscribers).
func BenchmarkFanout1000(b *testing.B) {
	const n = 1000
	sip.UDPMTUSize = 65507 + 200
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	_ = sink.(*net.UDPConn).SetReadBuffer(8 << 20)
	var got atomic.Int64
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := sink.ReadFrom(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	w := io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(w, nil))
	ua, err := sipgo.NewUA(sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)))
	if err != nil {
		b.Fatal(err)
	}
	defer ua.Close()
	// As in the server, the Focus sends from the listening socket.
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		b.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	go func() { _ = srv.ServeUDP(pc) }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := ua.TransportLayer().GetConnection("udp", pc.LocalAddr().String()); err == nil {
			c.TryClose()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("UDP listener not ready")
		}
		time.Sleep(time.Millisecond)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientConnectionAddr(pc.LocalAddr().String()))
	if err != nil {
		b.Fatal(err)
	}
	f, err := New(Config{
		Hostname: "fe.parley.test", Client: cli, Meetings: nopMeetings{}, Directory: nopDirectory{},
		Contact: func(string) sip.ContactHeader {
			return sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "focus", Host: "127.0.0.1", Port: 5060}}
		},
		SubscriberQueue: 256,
	}, log)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = f.Close(ctx)
	}()
	uri := "sip:boss@parley.test;gruu;opaque=app:conf:focus:id:BIGMEETING1"
	c := newConference(f, uri, "sip:boss@parley.test", "BIGMEETING1")
	c.maxSize = 5000
	c.start()
	ctx := context.Background()
	peer := sink.LocalAddr().String()
	_, err = call(ctx, c, func() error {
		c.activated, c.lastJoin = true, c.now()
		c.countEnterprise(1) // keeps the 10-minute rule away
		for i := range n {
			entity := fmt.Sprintf("sip:p%d@fabrikam.test", i)
			d, err := benchDialog(uri, entity, "call-"+strconv.Itoa(i), "theirs"+strconv.Itoa(i), peer)
			if err != nil {
				return err
			}
			c.seq++
			p := &participant{Entity: entity, Role: RoleAttendee, Authenticated: true, Seq: c.seq,
				Session: &session{Dialog: d, Endpoint: newEntity()}}
			c.participants[entity] = p
			s := &subscription{d: d, user: entity, benotify: true, expires: c.now().Add(time.Hour),
				base: int64(c.version) - 1, queue: newNoteQueue(256), kill: make(chan struct{})}
			c.subs[d.ID] = s
			f.startSender(c, s)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	guest := &participant{Entity: "sip:guest@fabrikam.test", Role: RoleAttendee, Seq: 1 << 40}
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		goal := got.Load() + n
		start := time.Now()
		c.post(func() {
			if i%2 == 0 {
				c.participants[guest.Entity] = guest
				c.publish(c.userDoc(guest))
			} else {
				delete(c.participants, guest.Entity)
				c.publish(c.removedDoc(guest.Entity))
			}
		})
		deadline := time.Now().Add(5 * time.Second)
		for got.Load() < goal {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d datagrams arrived", got.Load()-goal+n, n)
			}
			time.Sleep(50 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/notification")
}

// benchDialog is the dialog a subscriber's SUBSCRIBE from peer over UDP
// would have created.
func benchDialog(uri, entity, callID, fromTag, peer string) (*dialog.Dialog, error) {
	var to, from, contact sip.Uri
	for _, u := range []struct {
		s   string
		dst *sip.Uri
	}{{uri, &to}, {entity, &from}, {"sip:phone@" + peer, &contact}} {
		if err := sip.ParseUri(u.s, u.dst); err != nil {
			return nil, err
		}
	}
	req := sip.NewRequest(sip.SUBSCRIBE, to)
	req.AppendHeader(&sip.FromHeader{Address: from, Params: sip.HeaderParams{{K: "tag", V: fromTag}}})
	req.AppendHeader(&sip.ToHeader{Address: to})
	id := sip.CallIDHeader(callID)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(&sip.ContactHeader{Address: contact})
	req.SetTransport("UDP")
	req.SetSource(peer)
	return dialog.New(req, "ours")
}

// nopMeetings and nopDirectory stand for the store in BenchmarkFanout1000,
// which never reads it.
type nopMeetings struct{}

func (nopMeetings) Meeting(context.Context, string, string) (directory.Meeting, error) {
	return directory.Meeting{}, directory.ErrNotFound
}

func (nopMeetings) UpdateMeeting(context.Context, string, string, func(*directory.Meeting) error) (directory.Meeting, error) {
	return directory.Meeting{}, directory.ErrNotFound
}

type nopDirectory struct{}

func (nopDirectory) User(context.Context, string) (directory.User, error) {
	return directory.User{}, directory.ErrNotFound
}

func (nopDirectory) MeetingPolicy(context.Context, string) (directory.MeetingPolicy, error) {
	return directory.MeetingPolicy{}, directory.ErrNotFound
}

// BenchmarkSnapshot1000 measures what the persister does for a meeting of
// 1,000 participants, each subscribed: the copy of the state on the
// meeting's goroutine and its encoding (the store's write excluded).
func BenchmarkSnapshot1000(b *testing.B) {
	ua, err := sipgo.NewUA()
	if err != nil {
		b.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua)
	if err != nil {
		b.Fatal(err)
	}
	f, err := New(Config{Hostname: "fe.parley.test", Client: cli, Meetings: nopMeetings{}, Directory: nopDirectory{},
		Contact: func(string) sip.ContactHeader { return sip.ContactHeader{} }}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	uri := "sip:boss@parley.test;gruu;opaque=app:conf:focus:id:BIGMEETING1"
	c := newConference(f, uri, "sip:boss@parley.test", "BIGMEETING1")
	c.activated, c.lastJoin = true, c.now()
	for i := range 1000 {
		entity := fmt.Sprintf("sip:p%d@fabrikam.test", i)
		peer := fmt.Sprintf("192.0.2.%d:%d", i%250+1, 5060+i)
		d, err := benchDialog(uri, entity, "call-"+strconv.Itoa(i), "theirs"+strconv.Itoa(i), peer)
		if err != nil {
			b.Fatal(err)
		}
		sd, err := benchDialog(uri, entity, "sub-"+strconv.Itoa(i), "sub"+strconv.Itoa(i), peer)
		if err != nil {
			b.Fatal(err)
		}
		c.seq++
		c.participants[entity] = &participant{Entity: entity, DisplayName: "Participant " + strconv.Itoa(i),
			Role: RoleAttendee, Authenticated: true, Seq: c.seq, JoinedAt: c.now(),
			Session: &session{Dialog: d, Endpoint: newEntity()}}
		c.subs[sd.ID] = &subscription{d: sd, user: entity, benotify: true, expires: c.now().Add(time.Hour)}
	}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		out, err := c.snapshot().encode()
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(size), "bytes/snapshot")
}
