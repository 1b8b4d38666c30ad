import { HttpService } from '@nestjs/axios';
import { ConflictException, Controller, Delete, Get, Inject, NotFoundException, Param, Post } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import { InjectKeyedTokenRefresh, type KeyedTokenRefreshService, ReauthRequiredError, type StateCounts, TokenRefreshStateError } from '../../src';
import { EXAMPLE_CONFIG, type ExampleAppConfig } from './example-config';

/**
 * Many users' tokens (a keyed registration): each user connects once and their token is kept
 * valid in the background. Try: curl -X POST localhost:3000/users/ada/connect, then
 * curl localhost:3000/users/ada/data, and curl localhost:3000/users for the counts.
 */
@Controller('users')
export class UsersController {
  constructor(
    @InjectKeyedTokenRefresh('users') private readonly users: KeyedTokenRefreshService,
    private readonly http: HttpService,
    @Inject(EXAMPLE_CONFIG) private readonly config: ExampleAppConfig,
  ) {}

  /** Stands in for the OAuth login callback: the user's first tokens, from the authorization server. */
  @Post(':userId/connect')
  async connect(@Param('userId') userId: string): Promise<{ connected: string }> {
    await this.users.set(userId, await this.config.connectUser());
    return { connected: userId };
  }

  /** Calls the protected API as this user, with the token kept valid for them. */
  @Get(':userId/data')
  async data(@Param('userId') userId: string): Promise<unknown> {
    let token: string;
    try {
      token = await this.users.getAccessToken(userId);
    } catch (error) {
      if (error instanceof ReauthRequiredError) throw new ConflictException({ reconnect: true });
      if (error instanceof TokenRefreshStateError) throw new NotFoundException({ message: `${userId} is not connected` });
      throw error;
    }
    const { data } = await firstValueFrom(this.http.get(`${this.config.apiBaseUrl}/data`, { headers: { Authorization: `Bearer ${token}` } }));
    return data;
  }

  /** How many users are connected, per state (reauth-required: users to ask to reconnect). */
  @Get()
  list(): { counts: StateCounts; reconnect: string[] } {
    return { counts: this.users.counts(), reconnect: this.users.keys('reauth-required') };
  }

  @Delete(':userId')
  async disconnect(@Param('userId') userId: string): Promise<{ disconnected: string }> {
    await this.users.delete(userId);
    return { disconnected: userId };
  }
}
