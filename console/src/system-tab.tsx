// The device itself: its agent's update, its Wi-Fi and its wired network, one form each.
import { EthernetForm } from './ethernet-form.js';
import type { Device } from './fleet.js';
import type { Session } from './session.js';
import { UpdateForm } from './update-form.js';
import { WifiForm } from './wifi-form.js';

export function SystemTab({ device, session }: { device: Device; session: Session }) {
  return (
    <div class="forms">
      <UpdateForm device={device} session={session} />
      <WifiForm device={device} session={session} />
      <EthernetForm device={device} session={session} />
    </div>
  );
}
