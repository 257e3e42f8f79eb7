// A bounded queue of tasks shared by the workers of a pool, for spreading the chunks of
// one file over every worker while its owner goes on decoding:
//
//   owner:   decode -> submit(window task) ... -> help_until(group done) -> write outputs
//   others:  run_one() / wait_and_run() whatever is queued
//
// Each task runs on the worker that picks it up, with that worker's index (so it can use
// that worker's own model instances). A full queue makes the submitting worker run queued
// tasks itself (caller runs), so memory stays at `capacity` tasks and one worker alone
// still makes progress. Tasks are counted per Group; a task must not throw (catch inside
// and record the failure in the group's owner).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tagmap::embed {

class TaskQueue {
  public:
    using Task = std::function<void(std::size_t worker)>;

    /// The tasks of one owner (one file); done when every submitted task has run.
    struct Group {
        std::size_t outstanding = 0;  ///< guarded by the queue's mutex
    };

    explicit TaskQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

    /// Queues `task` for `group`; while the queue is full, runs queued tasks on `worker`.
    void submit(std::size_t worker, Group& group, Task task) {
        std::unique_lock lock(mutex_);
        while (queue_.size() >= capacity_) {
            Item item = pop();
            lock.unlock();
            run(worker, item);
            lock.lock();
        }
        ++group.outstanding;
        queue_.push_back({std::move(task), &group});
        changed_.notify_all();
    }

    /// Runs one queued task on `worker`; false if the queue was empty.
    bool run_one(std::size_t worker) {
        std::unique_lock lock(mutex_);
        if (queue_.empty()) return false;
        Item item = pop();
        lock.unlock();
        run(worker, item);
        return true;
    }

    /// Runs queued tasks (anyone's) on `worker` until every task of `group` has run.
    void help_until_done(std::size_t worker, Group& group) {
        std::unique_lock lock(mutex_);
        while (group.outstanding > 0) {
            if (queue_.empty()) {
                changed_.wait(lock);
                continue;
            }
            Item item = pop();
            lock.unlock();
            run(worker, item);
            lock.lock();
        }
    }

    /// Waits for a task and runs it (true), or returns false once `stop()` holds with the
    /// queue empty. `stop` is evaluated under the queue's lock: change what it reads
    /// through update().
    template <class Stop>
    bool wait_and_run(std::size_t worker, Stop&& stop) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !queue_.empty() || stop(); });
        if (queue_.empty()) return false;
        Item item = pop();
        lock.unlock();
        run(worker, item);
        return true;
    }

    /// Runs `fn` under the queue's lock and wakes every waiter.
    template <class Fn>
    void update(Fn&& fn) {
        std::lock_guard lock(mutex_);
        fn();
        changed_.notify_all();
    }

  private:
    struct Item {
        Task task;
        Group* group = nullptr;
    };

    Item pop() {
        Item item = std::move(queue_.front());
        queue_.pop_front();
        return item;
    }

    void run(std::size_t worker, Item& item) {
        item.task(worker);
        item.task = nullptr;  // release what it captured before its owner is told
        std::lock_guard lock(mutex_);
        --item.group->outstanding;
        changed_.notify_all();
    }

    std::size_t capacity_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Item> queue_;
};

/// Runs process(item, worker) for items 0 .. items - 1 on `jobs` workers (the calling
/// thread is worker 0, the others are started here and joined before returning). Items
/// are taken in order by workers 0 .. owners - 1 (owners >= 1: e.g. as many as there are
/// per-item model instances); every worker runs queued tasks whenever it can, and after
/// the last item until every item is done. `process` must not throw.
template <class Process>
void run_items(TaskQueue& queue, std::size_t jobs, std::size_t items, std::size_t owners,
               Process&& process) {
    if (jobs == 0) jobs = 1;
    if (owners == 0) owners = 1;
    std::size_t next = 0, running = 0;  // guarded by the queue's lock
    const auto work = [&](std::size_t k) {
        for (;;) {
            if (queue.run_one(k)) continue;  // tasks first: they finish items in flight
            std::size_t i = items;
            queue.update([&] {
                if (k < owners && next < items) {
                    i = next++;
                    ++running;
                }
            });
            if (i < items) {
                process(i, k);
                queue.update([&] { --running; });
                continue;
            }
            if (!queue.wait_and_run(k, [&] { return running == 0 && next >= items; })) break;
        }
    };
    std::vector<std::jthread> pool;
    for (std::size_t k = 1; k < jobs; ++k) pool.emplace_back([&work, k] { work(k); });
    work(0);
}

}  // namespace tagmap::embed
